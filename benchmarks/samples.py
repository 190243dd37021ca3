"""The samples a task scores, and the fingerprint of the data they come from.

* build, ``rows: images`` — one sample per distinct image of the split (its first row), id ``image_id``
  (``image_id#variant`` when the task has variants); gold is the row's emotion.
* build, ``rows: reasoning`` — every reasoning row of the split, asked its own first question; id is the
  row id.
* folder — every ``*.jpg``/``*.jpeg``/``*.png`` under ``<root>/<class>/`` for the task's classes, sorted;
  id ``class/stem``, ``image_id`` the file stem.

Samples come in a fixed order, so a run's prediction file and its shards line up across restarts and ranks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks.task import Task
from schemas.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Sample:
    """One question to a model: an image, what to ask (``None``: the task's instruction), the gold label."""

    id: str
    image_id: str
    image: object
    gold: str
    instruction: str | None = None
    variant: str | None = None


def load_split(build: str | Path, split: str):
    """A split of a built dataset (``datasets.load_from_disk``), with one clear error when it is not there."""
    from builder.dataset.stored import load_built

    path = Path(build)
    built = load_built(path)
    if split not in built:
        raise UsageError(f"{path}: no split {split!r} (have {', '.join(built)})")
    return built[split]


def build_fingerprint(build: str | Path, split: str) -> str:
    """The split's content fingerprint (``state.json`` ``_fingerprint``, which ``emovit build`` sets to the
    content hash) combined with the build report's config fingerprint when there is one."""
    path = Path(build)
    parts = []
    for name in ("report.json",):
        try:
            parts.append(str(json.loads((path / name).read_text(encoding="utf-8")).get("fingerprint")))
        except (OSError, ValueError):
            parts.append("-")
    try:
        parts.append(str(json.loads((path / split / "state.json").read_text(encoding="utf-8")).get("_fingerprint")))
    except (OSError, ValueError):
        raise UsageError(f"{path}: split {split!r} has no state.json; is this an 'emovit build' output?") from None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def build_samples(task: Task, build: str | Path) -> list[Sample]:
    """Samples of a ``source: build`` task."""
    from schemas.features import column
    from schemas.protocol import IMAGE_TOKEN, strip_image_token

    split = load_split(build, task.split)
    names = split.features["emotion"].names
    ids, image_ids = column(split, "id"), column(split, "image_id")
    emotions, kinds = column(split, "emotion"), column(split, "kind")
    gold = [names[e] if isinstance(e, int) else e for e in emotions]
    unknown = sorted(set(gold) - set(task.labels))
    if unknown:
        raise UsageError(f"{build}: split {task.split} has emotions {', '.join(unknown)} that task {task.name} "
                         "does not list")
    if task.rows == "reasoning":
        keep = [i for i, kind in enumerate(kinds) if kind == "reasoning"]
        if not keep:
            raise UsageError(f"{build}: split {task.split} has no reasoning rows (build with --config all)")
        rows = split.select(keep)
        images, dialogues = column(rows, "image"), column(rows, "conversations")
        samples = []
        for position, index in enumerate(keep):
            question = strip_image_token(dialogues[position][0]["value"]).replace(IMAGE_TOKEN, "").strip()
            samples.append(Sample(ids[index], image_ids[index], images[position], gold[index], question))
        return samples
    first: dict[str, int] = {}
    for index, image_id in enumerate(image_ids):
        first.setdefault(image_id, index)
    rows = split.select(list(first.values()))
    images = column(rows, "image")
    samples = []
    for variant, instruction in task.questions().items():
        for position, (image_id, index) in enumerate(first.items()):
            sample_id = image_id if variant is None else f"{image_id}#{variant}"
            samples.append(Sample(sample_id, image_id, images[position], gold[index], instruction, variant))
    return samples


def folder_files(task: Task, root: str | Path) -> list[tuple[str, Path]]:
    """``(label, path)`` of every image under the task's class folders, sorted by class folder then name."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: folder dataset not found (set data.folder to <root> holding <class>/*.jpg)")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unmapped = [name for name in folders if name not in task.classes]
    if unmapped:
        raise UsageError(f"{root}: class folder(s) {', '.join(unmapped)} not mapped by task {task.name} "
                         f"({task.path}: classes)")
    missing = [name for name in task.classes if name not in folders]
    if missing:
        raise UsageError(f"{root}: no folder for class(es) {', '.join(missing)} of task {task.name}")
    files = []
    for name in folders:
        for path in sorted((root / name).iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                files.append((task.classes[name], path))
    if not files:
        raise UsageError(f"{root}: no .jpg/.jpeg/.png images in the class folders")
    return files


def folder_samples(task: Task, root: str | Path) -> list[Sample]:
    """Samples of a ``source: folder`` task."""
    samples = []
    for variant, instruction in task.questions().items():
        for label, path in folder_files(task, root):
            base = f"{path.parent.name}/{path.stem}"
            sample_id = base if variant is None else f"{base}#{variant}"
            samples.append(Sample(sample_id, path.stem, str(path), label, instruction, variant))
    return samples


def folder_fingerprint(task: Task, root: str | Path) -> str:
    """sha256 over every image's class, name and bytes (a changed, added or removed file changes it)."""
    digest = hashlib.sha256()
    for label, path in folder_files(task, root):
        digest.update(f"{label}\0{path.parent.name}/{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


__all__ = ["Sample", "build_fingerprint", "build_samples", "folder_files", "folder_fingerprint", "folder_samples",
           "load_split"]
