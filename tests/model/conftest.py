"""Fixtures of the model tests: tiny zoo checkpoints and categorical datasets built by ``emovit build``."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.dataset.build import BuildConfig, build_dataset
from builder.sources.synth import SynthConfig, synthesise


def build_categorical_dataset(root: Path, *, per_class: int, seed: int, splits=("train", "val")) -> Path:
    """Synthesise an EmoSet tree under ``root/tree`` and build its categorical config into ``root/dataset``."""
    tree, out = root / "tree", root / "dataset"
    synthesise(tree, SynthConfig(per_class=per_class, seed=seed, splits=tuple(splits)), progress=False)
    build_dataset(BuildConfig(emoset_root=str(tree), config="categorical", seed=seed), out, cache_dir=root / "cache",
                  progress=False, plots=False)
    return out


@pytest.fixture(scope="session")
def tiny_instructblip(tmp_path_factory) -> Path:
    """A tiny random InstructBLIP checkpoint (zoo defaults, seed 0)."""
    from emovit_model.zoo import build_tiny

    return build_tiny("instructblip", tmp_path_factory.mktemp("zoo") / "instructblip", seed=0)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """Categorical dataset, 4 images per class in train and val (32 + 32 rows)."""
    return build_categorical_dataset(tmp_path_factory.mktemp("small_ds"), per_class=4, seed=3)


@pytest.fixture(scope="session")
def learning_dataset(tmp_path_factory) -> Path:
    """Categorical dataset large enough for the learning check: 96 images per class in train and val."""
    root = tmp_path_factory.mktemp("learning_ds")
    return build_categorical_dataset(root, per_class=96, seed=11)
