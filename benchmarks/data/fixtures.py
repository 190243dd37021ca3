"""Offline stand-ins the "tiny" benchmark size runs on: synthetic builds, synthetic image folders and tiny
zoo checkpoints. Everything is generated here, never downloaded, and cached by its spec: asking again for
the same spec reuses what is on disk.

* ``synthetic_build(out, per_class=..., seed=...)`` — ``emovit synth`` + ``emovit build --config all
  --sampling all`` (categorical, conversation and reasoning rows for every image of train/val/test).
* ``synthetic_folder(root, paint={folder: emotion}, per_class=..., seed=...)`` — ``<root>/<class>/*.jpg``
  painted with the synthetic EmoSet signal of the named emotion (a held-out folder dataset).
* ``zoo_checkpoint(out, kind)`` — :func:`emovit_model.zoo.build_tiny`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SPEC = "fixture_spec.json"


def _cached(out: Path, spec: dict) -> bool:
    try:
        return json.loads((out / SPEC).read_text(encoding="utf-8")) == spec
    except (OSError, ValueError):
        return False


def _mark(out: Path, spec: dict) -> None:
    (out / SPEC).write_text(json.dumps(spec, sort_keys=True), encoding="utf-8")


def synthetic_build(out: str | Path, *, per_class: int = 16, seed: int = 0, image_size: int = 32) -> Path:
    """A synthetic EmoSet tree built with every instruction kind into ``out/build``; returns the build path."""
    from builder.dataset.build import BuildConfig, build_dataset
    from builder.sources.synth import SynthConfig, synthesise

    out = Path(out)
    spec = {"kind": "synthetic_build", "per_class": per_class, "seed": seed, "image_size": image_size}
    if _cached(out, spec):
        return out / "build"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    synthesise(out / "tree", SynthConfig(per_class=per_class, seed=seed, image_size=image_size), progress=False)
    build_dataset(BuildConfig(emoset_root=str(out / "tree"), config="all", sampling="all", seed=seed),
                  out / "build", cache_dir=out / "cache", progress=False, plots=False)
    _mark(out, spec)
    return out / "build"


def synthetic_folder(root: str | Path, *, paint: dict[str, str], per_class: int = 8, seed: int = 0,
                     image_size: int = 32) -> Path:
    """``<root>/<class>/<class>_NNN.jpg`` for every ``class`` of ``paint``, each painted with the synthetic
    signal of ``paint[class]`` (an EmoSet emotion); returns ``root``."""
    import numpy as np

    from builder.sources.synth import render_image

    root = Path(root)
    spec = {"kind": "synthetic_folder", "paint": dict(sorted(paint.items())), "per_class": per_class, "seed": seed,
            "image_size": image_size}
    if _cached(root, spec):
        return root
    if root.exists():
        shutil.rmtree(root)
    for number, (folder, emotion) in enumerate(sorted(paint.items())):
        rng = np.random.default_rng([seed, number])
        (root / folder).mkdir(parents=True)
        for index in range(per_class):
            render_image(emotion, rng, image_size).save(root / folder / f"{folder}_{index:03d}.jpg", quality=90)
    _mark(root, spec)
    return root


def zoo_checkpoint(out: str | Path, kind: str, *, seed: int = 0) -> Path:
    """A tiny random ``kind`` checkpoint in ``out`` (built once per kind and seed)."""
    from emovit_model.zoo import build_tiny

    out = Path(out)
    spec = {"kind": f"zoo:{kind}", "seed": seed}
    if _cached(out, spec):
        return out
    if out.exists():
        shutil.rmtree(out)
    build_tiny(kind, out, seed=seed)
    _mark(out, spec)
    return out


__all__ = ["synthetic_build", "synthetic_folder", "zoo_checkpoint"]
