"""Planning a build: one streaming pass over the split lists that cuts them into shards.

The pass writes each shard's entries to a small JSON plan file and returns :class:`ShardRef` values
that point at those files, so the ``datasets`` builder hands its workers references, never records, and
memory stays flat in the number of entries. For every entry the plan also fixes what a shard cannot know on
its own:

* **its position within its class** (EmoVIT's per-class sampling counts images in split-file order): the
  class is the one the split entry states; for split-less trees whose folders do not name the emotion, the
  annotation's ``emotion`` field is read during the pass (only when the sampling needs positions);
* **whether its id repeats** one seen earlier (in this split or an earlier one): ids are kept as 128-bit
  digests in NumPy arrays (24 bytes per entry, not a Python set of strings), sorted once at the end; the
  shards receive the few duplicate positions that concern them.

A plan file is a JSON list with one item per entry: ``[position, class_index, emotion, id, image,
annotation]`` (``class_index`` -1 when not needed or not known), or ``{"quarantine": {...}}`` for a
malformed entry.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from builder.sources.emoset import EmoSetSource, SplitEntry, counts_as_id
from builder.sources.records import QuarantineEntry


@dataclass(frozen=True)
class ShardRef:
    """One shard of one split: where its plan file is and which of its positions repeat an earlier id."""

    split: str
    index: int
    path: str
    entries: int
    duplicates: dict[int, str] = field(default_factory=dict)


@dataclass
class SplitPlan:
    """The shards of one split and how many entries it has."""

    split: str
    entries: int
    shards: list[ShardRef]


class _IdDigests:
    """Append-only store of (digest, split, position) for every entry that claims an id."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._rows: list[tuple[int, int, int, int]] = []

    def add(self, entry_id: str, split_index: int, position: int) -> None:
        digest = hashlib.blake2b(entry_id.encode("utf-8"), digest_size=16).digest()
        self._rows.append((int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little"),
                           split_index, position))
        if len(self._rows) >= 65536:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._chunks.append(np.array(self._rows, dtype=np.uint64))
            self._rows = []

    def repeats(self) -> list[tuple[int, int, int]]:
        """``(split_index, position, first_split_index)`` for every entry whose id was seen before it."""
        self._flush()
        if not self._chunks:
            return []
        rows = np.concatenate(self._chunks)
        self._chunks = []
        order = np.lexsort((rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))  # digest, then reading order
        rows = rows[order]
        repeat = (rows[1:, 0] == rows[:-1, 0]) & (rows[1:, 1] == rows[:-1, 1])  # row i+1 repeats row i
        found = []
        first_split = 0
        for i in np.flatnonzero(repeat):
            if i == 0 or not repeat[i - 1]:  # row i opens its group: it is the first occurrence
                first_split = int(rows[i, 2])
            found.append((int(rows[i + 1, 2]), int(rows[i + 1, 3]), first_split))
        return found


def _write_shard(plan_dir: Path, split: str, index: int, lines: list) -> ShardRef:
    path = plan_dir / f"{split}-{index:05d}.json"
    path.write_text(json.dumps(lines, ensure_ascii=False), encoding="utf-8")
    return ShardRef(split, index, str(path), len(lines))


def plan_splits(source: EmoSetSource, splits: tuple[str, ...], plan_dir: str | Path, *, shard_size: int,
                class_positions: bool) -> dict[str, SplitPlan]:
    """Cut ``splits`` of ``source`` into shards of ``shard_size`` entries, writing plan files to ``plan_dir``.

    ``class_positions``: record each entry's position within its class (needed by EmoVIT's sampling).
    """
    plan_dir = Path(plan_dir)
    plan_dir.mkdir(parents=True, exist_ok=True)
    digests = _IdDigests()
    plans: dict[str, SplitPlan] = {}
    for split_index, split in enumerate(splits):
        per_class: Counter = Counter()
        refs: list[ShardRef] = []
        lines: list = []
        position = -1
        for position, entry in enumerate(source.entries(split)):
            if isinstance(entry, QuarantineEntry):
                lines.append({"quarantine": asdict(entry)})
            else:
                class_index = -1
                if class_positions:
                    emotion = source.declared_emotion(entry)
                    if emotion is not None:
                        class_index = per_class[emotion]
                        per_class[emotion] += 1
                if counts_as_id(entry):
                    digests.add(entry.id, split_index, position)
                lines.append([position, class_index, entry.emotion, entry.id, entry.image, entry.annotation])
            if len(lines) == shard_size:
                refs.append(_write_shard(plan_dir, split, len(refs), lines))
                lines = []
        if lines:
            refs.append(_write_shard(plan_dir, split, len(refs), lines))
        plans[split] = SplitPlan(split, position + 1, refs)
    for split_index, position, first in digests.repeats():
        split = splits[split_index]
        shard = plans[split].shards[position // shard_size]
        shard.duplicates[position] = splits[first]
    return plans


def read_shard(shard: ShardRef) -> list[tuple[SplitEntry | QuarantineEntry, int, str | None]]:
    """The entries of a shard as ``(entry, class_index, duplicate_of)``."""
    entries = []
    for value in json.loads(Path(shard.path).read_text(encoding="utf-8")):
        if isinstance(value, dict):
            entries.append((QuarantineEntry(**value["quarantine"]), -1, None))
            continue
        position, class_index, emotion, entry_id, image, annotation = value
        entry = SplitEntry(shard.split, position, emotion, entry_id, image, annotation)
        entries.append((entry, class_index, shard.duplicates.get(position)))
    return entries
