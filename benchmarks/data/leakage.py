"""Leakage between training data and a held-out test set: near-duplicate images found by perceptual hash.

A model trained on a build has seen the build's ``train`` images; a held-out test image that is a copy of one
of them (re-encoded, resized, lightly edited) is not held out. Every image is hashed with ImageHash's
``phash`` (the 64-bit DCT hash of the 32x32 grey image), and a held-out image *leaks* when the Hamming
distance to its nearest training image is at most ``threshold`` bits (default :data:`DEFAULT_THRESHOLD`, our
choice: JPEG re-encoding and resizing move a few bits, unrelated photographs differ in about half of the 64;
``leakage.threshold`` / ``--threshold`` change it, and every pair is listed with its distance for review).

* ``emovit bench leakage --build BUILD --task T data.roots.T=PATH`` (:func:`run`) reports the count and the
  pairs (``OUT/leakage/<task>.json``) and adds ``"leakage": {count, threshold, hash, build, excluded}`` to the
  ``config.json`` of the runs of that task on the same data under ``OUT/runs``.
* ``emovit bench run ... leakage.build=BUILD`` (:func:`apply_leakage`) records the same key in every new run
  of a held-out task; ``exclude_leaked=true`` also drops the leaked images from scoring (their ids are part of
  the data fingerprint, so such runs never mix with unfiltered ones). ``build`` is the build's fingerprint.

Training hashes are cached per build fingerprint under ``OUT/_cache/leakage``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from schemas.errors import UsageError

#: Hamming distance (of 64 bits) at or below which two images are near-duplicates.
DEFAULT_THRESHOLD = 8
#: Held-out images compared against all training hashes at once (bounds the distance matrix's memory).
QUERY_CHUNK = 256


def hash_name() -> str:
    """The hash, as recorded in provenance (library version included: another version may hash differently)."""
    from importlib.metadata import version

    return f"imagehash.phash 64-bit (ImageHash {version('ImageHash')})"


def phash(image) -> int:
    """The 64-bit perceptual hash of an image (a path, bytes or a PIL image) as an integer."""
    import io

    import imagehash
    from PIL import Image

    if isinstance(image, Image.Image):
        return int(str(imagehash.phash(image.convert("RGB"))), 16)
    with Image.open(io.BytesIO(image) if isinstance(image, (bytes, bytearray)) else image) as opened:
        return int(str(imagehash.phash(opened.convert("RGB"))), 16)


@dataclass
class LeakageReport:
    """Which held-out images of a task are near-duplicates of a build's training images."""

    task: str
    build: str
    build_path: str
    threshold: int
    hash: str
    checked: int
    pairs: list[dict] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.pairs)

    def provenance(self, excluded: bool) -> dict:
        """The ``leakage`` key of a run's ``config.json``."""
        return {"count": self.count, "threshold": self.threshold, "hash": self.hash, "build": self.build,
                "excluded": excluded}

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({**asdict(self), "count": self.count}, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
        os.replace(temporary, path)


def training_hashes(build: str | Path, cache_dir: str | Path, *, progress: bool = False) -> tuple[list[str], object]:
    """``(image ids, uint64 hashes)`` of the distinct images of the build's ``train`` split, streamed from its
    Arrow files (paths or embedded bytes) and cached by the split's fingerprint."""
    import numpy as np
    from tqdm.auto import tqdm

    from benchmarks.data.samples import build_fingerprint, load_split
    from builder.dataset.stored import record_batches

    split = load_split(build, "train")
    cache = Path(cache_dir) / f"train-{build_fingerprint(build, 'train')}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        return stored["ids"].tolist(), stored["hashes"]
    ids, hashes, seen = [], [], set()
    with tqdm(total=len(split), desc="hash training images", unit="row", disable=not progress) as bar:
        for batch in record_batches(split, ["image_id", "image"]):
            for image_id, image in zip(batch.column("image_id").to_pylist(), batch.column("image").to_pylist()):
                if image_id not in seen:
                    seen.add(image_id)
                    ids.append(image_id)
                    hashes.append(phash(image["bytes"] if image.get("bytes") else image["path"]))
            bar.update(batch.num_rows)
    array = np.array(hashes, dtype=np.uint64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
    np.savez(temporary, ids=np.array(ids, dtype=str), hashes=array)
    os.replace(temporary, cache)
    return ids, array


def nearest(queries, reference):
    """For each query hash, the Hamming distance to its nearest reference hash and that hash's position."""
    import numpy as np

    distances = np.empty(len(queries), dtype=np.int64)
    positions = np.empty(len(queries), dtype=np.int64)
    if not len(reference):
        distances.fill(65)
        positions.fill(-1)
        return distances, positions
    for start in range(0, len(queries), QUERY_CHUNK):
        block = np.bitwise_count(queries[start:start + QUERY_CHUNK, None] ^ reference[None, :])
        positions[start:start + QUERY_CHUNK] = block.argmin(axis=1)
        distances[start:start + QUERY_CHUNK] = block.min(axis=1)
    return distances, positions


def check_leakage(task: str, samples, build: str | Path, *, threshold: int = DEFAULT_THRESHOLD,
                  cache_dir: str | Path, progress: bool = False) -> LeakageReport:
    """Compare the distinct images of ``samples`` (held-out samples whose ``image`` is a path) with the build's
    training images; the pairs at or below ``threshold`` bits, nearest first."""
    import numpy as np
    from tqdm.auto import tqdm

    from benchmarks.data.samples import build_fingerprint

    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 0 <= threshold <= 64:
        raise UsageError(f"leakage threshold must be an integer from 0 to 64 bits, got {threshold!r}")
    train_ids, train = training_hashes(build, cache_dir, progress=progress)
    images = {}
    for sample in samples:
        images.setdefault(sample.image_id, sample.image)
    ids = list(images)
    queries = np.array([phash(images[i]) for i in tqdm(ids, desc=f"hash {task}", unit="img", disable=not progress)],
                       dtype=np.uint64)
    distances, positions = nearest(queries, train)
    pairs = sorted(({"id": ids[i], "train_image_id": train_ids[positions[i]], "distance": int(distances[i])}
                    for i in np.flatnonzero(distances <= threshold)), key=lambda p: (p["distance"], p["id"]))
    return LeakageReport(task, build_fingerprint(build, "train"), str(build), threshold, hash_name(), len(ids), pairs)


def apply_leakage(config, data: dict, tasks, prepared: dict, out: Path, note) -> dict[str, dict]:
    """Check every held-out (and folder) task of a run; record ``OUT/leakage/<task>.json``; with
    ``config.exclude_leaked`` drop the leaked samples from ``prepared`` (changing the data fingerprint).
    Returns ``{task: provenance}`` for the runs' ``config.json``."""
    build = config.leakage.get("build") or data.get("build")
    if not build:
        raise UsageError("the leakage check needs the training data: leakage.build=BUILD (or data.build)")
    threshold = config.leakage.get("threshold", DEFAULT_THRESHOLD)
    found = {}
    for task in tasks:
        if task.source not in ("heldout", "folder"):
            continue
        samples, dataset = prepared[task.name]
        report = check_leakage(task.name, samples, build, threshold=threshold, cache_dir=out / "_cache" / "leakage",
                               progress=config.progress)
        report.write(out / "leakage" / f"{task.name}.json")
        note(f"{task.name}: {report.count} of {report.checked} images within {threshold} bits of a training image "
             f"of {build}" + (" (excluded from scoring)" if config.exclude_leaked and report.count else ""))
        if config.exclude_leaked and report.count:
            leaked = sorted(p["id"] for p in report.pairs)
            kept = [s for s in samples if s.image_id not in set(leaked)]
            if not kept:
                raise UsageError(f"task {task.name}: every image leaks from {build}; nothing left to score")
            digest = hashlib.sha256("\0".join([dataset["fingerprint"], *leaked]).encode()).hexdigest()[:16]
            prepared[task.name] = (kept, {**dataset, "fingerprint": digest, "excluded_leaked": len(leaked)})
        found[task.name] = report.provenance(bool(config.exclude_leaked))
    return found


def annotate_runs(out: str | Path, task: str, fingerprint: str, provenance: dict) -> list[Path]:
    """Add ``"leakage"`` to the ``config.json`` of every run of ``task`` under ``OUT/runs`` whose data has
    ``fingerprint`` (runs that excluded leaked images keep their own record); returns the files changed."""
    from schemas.runinfo import write_json

    changed = []
    for path in sorted(Path(out, "runs").glob(f"*/{task}/config.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (document.get("dataset") or {}).get("fingerprint") != fingerprint:
            continue
        document["leakage"] = provenance
        write_json(path, document)
        changed.append(path)
    return changed


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench leakage``'s arguments."""
    parser.description = ("Perceptual-hash (phash) near-duplicates between a build's train split and a held-out "
                          "task's images; writes OUT/leakage/<task>.json and records the count in the task's run "
                          "config.json.")
    parser.set_defaults(handler=run)
    parser.add_argument("--build", required=True, help="the 'emovit build' output the model trained on")
    parser.add_argument("--task", required=True, help="a held-out task name (emotion6, fi8, ...) or task file")
    parser.add_argument("--config", default="heldout", help="run config giving out, data.roots, limit, seed "
                                                            "(default heldout)")
    parser.add_argument("--threshold", type=int, default=None,
                        help=f"Hamming distance in bits, 0-64, at or below which images are near-duplicates "
                             f"(default {DEFAULT_THRESHOLD})")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. data.roots.emotion6=PATH out=runs/heldout")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from benchmarks.data.samples import (
        folder_fingerprint,
        folder_samples,
        heldout_data,
        heldout_samples,
        rooted_tasks,
    )
    from benchmarks.spec.config import load_config
    from benchmarks.spec.task import load_task

    overrides = [*args.overrides, f"tasks=[{args.task}]"]
    config = load_config(args.config, overrides)
    out = Path(config.out)
    threshold = args.threshold if args.threshold is not None else config.leakage.get("threshold", DEFAULT_THRESHOLD)
    data = {**heldout_data(config, out), "skip_missing": False}
    task = rooted_tasks([load_task(args.task)], data)[0]
    if task.source == "heldout":
        samples, dataset = heldout_samples(task, data)
    elif task.source == "folder" and config.data.get("folder"):
        samples = folder_samples(task, config.data["folder"])
        dataset = {"fingerprint": folder_fingerprint(task, config.data["folder"])}
    else:
        raise UsageError(f"task {task.name} is not a held-out task (source {task.source}); leakage is checked "
                         "for heldout and folder tasks")
    report = check_leakage(task.name, samples, args.build, threshold=threshold,
                           cache_dir=out / "_cache" / "leakage", progress=not args.quiet)
    report.write(out / "leakage" / f"{task.name}.json")
    annotated = annotate_runs(out, task.name, dataset["fingerprint"], report.provenance(False))
    print(f"{task.name}: {report.count} of {report.checked} held-out images within {threshold} bits of a training "
          f"image of {args.build} (build {report.build}; {report.hash})")
    for pair in report.pairs[:10]:
        print(f"  {pair['id']}  ~  {pair['train_image_id']}  ({pair['distance']} bits)")
    if report.count > 10:
        print(f"  ... {report.count - 10} more")
    print(f"report: {out / 'leakage' / f'{task.name}.json'}; config.json of {len(annotated)} run(s) annotated")
    if report.count:
        print(f"score without them: emovit bench run --config {args.config} leakage.build={args.build} "
              f"exclude_leaked=true ...")
    return 0


__all__ = ["DEFAULT_THRESHOLD", "LeakageReport", "annotate_runs", "apply_leakage", "check_leakage", "hash_name",
           "nearest", "phash", "training_hashes"]
