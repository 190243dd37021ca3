"""The categorical benchmark of a build, one row per test image, for exports to other evaluation harnesses.

The same samples as our ``emoset8`` task scores: every distinct image of a split (its first row), in split
order, id = image id, gold = the row's emotion, asked EmoVIT's categorical instruction over the eight emotions
in alphabetical order. Image bytes are read one at a time (from the build, or from the source tree when the
build stores paths), so a large split never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import UsageError
from schemas.protocol import ALPHABETICAL_EMOTIONS, CATEGORICAL_INSTRUCTION

#: The candidate labels, in the order the instruction lists them.
LABELS: tuple[str, ...] = ALPHABETICAL_EMOTIONS
#: The question without its inline option list, for harnesses that list options themselves.
SHORT_QUESTION = CATEGORICAL_INSTRUCTION.split(" from the following options")[0] + "."


@dataclass(frozen=True)
class BenchmarkRow:
    """One test image: its id, gold label, encoded bytes and file suffix."""

    id: str
    answer: str
    image: bytes
    suffix: str


def benchmark_split(build_dir: str | Path, split: str):
    """The split of a build (one clear error when the build has no such split)."""
    from builder.publish.export import load_build

    built, _ = load_build(build_dir)
    if split not in built:
        raise UsageError(f"{build_dir}: no split {split!r} (have {', '.join(built)})")
    return built[split]


def benchmark_rows(dataset) -> Iterator[BenchmarkRow]:
    """The rows of ``dataset`` (one split of a build) as the benchmark asks them."""
    import datasets

    from schemas.features import column

    names = dataset.features["emotion"].names
    first: dict[str, int] = {}
    for index, image_id in enumerate(column(dataset, "image_id")):
        first.setdefault(image_id, index)
    chosen = dataset.select(list(first.values())).select_columns(["image_id", "image", "emotion"])
    chosen = chosen.cast_column("image", datasets.Image(decode=False))
    for row in chosen:
        image = row["image"]
        data = image["bytes"] if image.get("bytes") is not None else Path(image["path"]).read_bytes()
        emotion = row["emotion"]
        yield BenchmarkRow(row["image_id"], names[emotion] if isinstance(emotion, int) else emotion, data,
                           Path(image.get("path") or "x.jpg").suffix or ".jpg")


__all__ = ["LABELS", "SHORT_QUESTION", "BenchmarkRow", "benchmark_rows", "benchmark_split"]
