"""One entry per image of a build directory or a raw EmoSet tree: what curation shows about it.

A build holds several rows per image (one per instruction sample); they are grouped by ``image_id`` with
columns read from Arrow in one go (:func:`schemas.features.column`), so large builds read fast. A raw tree
gives images and annotations only (no caption, no instructions). Nothing here imports FiftyOne.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import UsageError
from schemas.protocol import strip_image_token


@dataclass
class InstructionRow:
    """One instruction sample of a build, as the instruction checks need it."""

    sample_id: str
    image_id: str
    kind: str
    emotion: str
    conversations: list[dict]


@dataclass
class ImageEntry:
    """One image with its annotation and (from a build) its caption, instructions and provenance."""

    image_id: str
    split: str
    emotion: str
    attributes: dict
    filepath: str | None = None
    image_bytes: bytes | None = None
    image_name: str | None = None
    caption: str | None = None
    instructions: dict[str, list[str]] = field(default_factory=dict)
    sample_ids: list[str] = field(default_factory=list)
    generator: str | None = None


@dataclass
class CurationSource:
    """The images of one build directory (``kind="build"``) or raw tree (``kind="tree"``)."""

    kind: str
    path: str
    fingerprint: str | None
    images: list[ImageEntry]
    rows: list[InstructionRow]
    skipped: int = 0
    emotions: tuple[str, ...] = ()

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(entry.split for entry in self.images))


def render_conversation(turns: list[dict]) -> str:
    """A conversation as ``Q: ...`` / ``A: ...`` lines (image placeholder removed), one pair after another."""
    lines = []
    for index, turn in enumerate(turns):
        text = strip_image_token(turn["value"]) if index == 0 else turn["value"]
        lines.append(("Q: " if turn["from"] == "human" else "A: ") + text)
    return "\n".join(lines)


def _generator_name(generator: dict) -> str:
    return f"{generator['backend']}:{generator['model']}" if generator.get("model") else generator["backend"]


def read_build(build_dir: str | Path, *, progress: bool = True, max_pixels: int | None = None) -> CurationSource:
    """Every image of a build directory written by ``emovit build``, in split and first-row order.

    Image files are checked with the reader's containment rule first; when the build did not decode its
    images (``--no-verify-images``), each is decoded here, so a file that cannot be read stops the load with
    one line before any sample is added, never half-way."""
    import datasets
    from tqdm.auto import tqdm

    from builder.dataset.stored import check_source_images, load_built
    from schemas.features import column

    build_dir = Path(build_dir)
    if not (build_dir / "dataset_dict.json").is_file():
        raise UsageError(f"{build_dir}: not a build directory (no dataset_dict.json); "
                         "run 'emovit build' first, or pass a raw tree with --emoset-root")
    fingerprint, verified = _report_facts(build_dir / "report.json")
    if not progress:
        datasets.disable_progress_bars()
    built = load_built(build_dir)
    check_source_images(build_dir, built)  # the reader's containment rule, again: files may have changed
    if not verified:  # a build that did not decode its images: decode them now, before anything is loaded
        _check_decodable(build_dir, built, max_pixels)
    images: dict[str, ImageEntry] = {}
    rows: list[InstructionRow] = []
    generators: dict[str, dict[str, None]] = {}
    emotions: tuple[str, ...] = ()
    total = sum(len(split) for split in built.values())
    with tqdm(total=total, desc="read build", unit="row", disable=not progress) as bar:
        for split, dataset in built.items():
            emotions = tuple(dataset.features["emotion"].names)
            columns = {name: column(dataset, name) for name in (
                "id", "image_id", "image", "emotion", "attributes", "caption", "kind", "conversations", "generator")}
            for sample_id, image_id, image, label, attributes, caption, kind, turns, generator in zip(
                    *columns.values()):
                emotion = emotions[label]
                entry = images.get(image_id)
                if entry is None:
                    entry = images[image_id] = ImageEntry(
                        image_id=image_id, split=split, emotion=emotion, attributes=attributes,
                        filepath=None if image.get("bytes") else image.get("path"),
                        image_bytes=image.get("bytes"), image_name=Path(image.get("path") or image_id).name,
                        caption=caption)
                    generators[image_id] = {}
                entry.instructions.setdefault(kind, []).append(render_conversation(turns))
                entry.sample_ids.append(sample_id)
                if generator and generator.get("backend") != "protocol":
                    generators[image_id][_generator_name(generator)] = None
                rows.append(InstructionRow(sample_id, image_id, kind, emotion, turns))
            bar.update(len(dataset))
    for image_id, entry in images.items():
        entry.generator = ", ".join(generators[image_id]) or ("protocol" if entry.sample_ids else None)
    return CurationSource("build", str(build_dir.resolve()), fingerprint, list(images.values()), rows,
                          emotions=emotions)


def _report_facts(path: Path) -> tuple[str | None, bool]:
    """``(fingerprint, whether the build decoded its images)`` from a build's ``report.json`` (``(None,
    False)`` when there is none); a malformed one is a :class:`UsageError`."""
    if not path.is_file():
        return None, False
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON ({str(exc)[:80]})") from None
    if not isinstance(report, dict):
        raise UsageError(f"{path}: not a build report (not a JSON object)")
    value, config = report.get("fingerprint"), report.get("config")
    verified = isinstance(config, dict) and config.get("verify_images") is True
    return (value if isinstance(value, str) else None), verified


def _check_decodable(build_dir: Path, built, max_pixels: int | None) -> None:
    """Decode every image of ``built`` (JPEGs at 1/8 scale); the first that fails is one :class:`UsageError`."""
    from builder.dataset.stored import image_batches
    from builder.sources.imagefiles import DEFAULT_MAX_PIXELS, ImageProblem, read_regular, verify_image_bytes

    for split, dataset in built.items():
        for batch in image_batches(dataset):
            images = batch.column("image")
            for image_id, path, data in zip(batch.column("image_id").to_pylist(), images.field("path").to_pylist(),
                                            images.field("bytes").to_pylist()):
                try:
                    verify_image_bytes(data if data is not None else read_regular(os.path.realpath(path)),
                                       max_pixels or DEFAULT_MAX_PIXELS, path or image_id)
                except ImageProblem as problem:
                    raise UsageError(f"{build_dir}: split {split}, image {image_id}: {problem.reason} ({problem.code}); "
                                     "a build that verifies images (the default) quarantines it") from None


def read_tree(root: str | Path, *, progress: bool = True, max_pixels: int | None = None) -> CurationSource:
    """Every readable image of a raw EmoSet tree; entries the reader quarantines (undecodable and too-large
    images included: images are verified) are counted as skipped."""
    from tqdm.auto import tqdm

    from builder.sources.emoset import EmoSetSource
    from builder.sources.imagefiles import DEFAULT_MAX_PIXELS

    source = EmoSetSource(root, verify_images=True, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    images: list[ImageEntry] = []
    skipped = 0
    with tqdm(desc="read tree", unit="img", disable=not progress) as bar:
        for split in source.splits:
            for batch in source.read(split):
                skipped += len(batch.quarantined)
                for record in batch.records:
                    images.append(ImageEntry(image_id=record.id, split=split, emotion=record.emotion,
                                             attributes=record.attributes(), filepath=record.image_path,
                                             image_name=Path(record.image_path).name))
                bar.update(len(batch.records) + len(batch.quarantined))
    return CurationSource("tree", str(Path(root).resolve()), None, images, [], skipped=skipped,
                          emotions=source.vocab.emotions)
