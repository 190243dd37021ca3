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
  shards receive the few duplicate positions that concern them;
* **whether its image file repeats** an earlier entry's, by resolved path (another id, another spelling of
  the path, a link inside the tree: the same file), kept the same way;
* with ``content=True``, **whether its image bytes repeat** those of an image in an earlier split (sha256 of
  every image, read once here): the later copy is left out of its split (``duplicate_content``).

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

from builder.sources.emoset import NO_DUPLICATE, Duplicate, EmoSetSource, SplitEntry, counts_as_id
from builder.sources.records import QuarantineEntry


@dataclass(frozen=True)
class ShardRef:
    """One shard of one split: where its plan file is and which of its positions repeat an earlier id."""

    split: str
    index: int
    path: str
    entries: int
    duplicates: dict[int, str] = field(default_factory=dict)
    duplicate_images: dict[int, str] = field(default_factory=dict)
    duplicate_contents: dict[int, str] = field(default_factory=dict)


@dataclass
class SplitPlan:
    """The shards of one split and how many entries it has."""

    split: str
    entries: int
    shards: list[ShardRef]


class Digests:
    """Append-only store of (digest, split, position) for every entry that claims a key (an id, a file)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._rows: list[tuple[int, int, int, int]] = []

    def add(self, key: str, split_index: int, position: int) -> None:
        digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        self._rows.append((int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little"),
                           split_index, position))
        if len(self._rows) >= 65536:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._chunks.append(np.array(self._rows, dtype=np.uint64))
            self._rows = []

    def repeats(self) -> list[tuple[int, int, int, int]]:
        """``(split_index, position, first_split_index, first_position)`` for every entry whose key was seen
        before it."""
        self._flush()
        if not self._chunks:
            return []
        rows = np.concatenate(self._chunks)
        self._chunks = []
        order = np.lexsort((rows[:, 3], rows[:, 2], rows[:, 1], rows[:, 0]))  # digest, then reading order
        rows = rows[order]
        repeat = (rows[1:, 0] == rows[:-1, 0]) & (rows[1:, 1] == rows[:-1, 1])  # row i+1 repeats row i
        found = []
        first_split = first_position = 0
        for i in np.flatnonzero(repeat):
            if i == 0 or not repeat[i - 1]:  # row i opens its group: it is the first occurrence
                first_split, first_position = int(rows[i, 2]), int(rows[i, 3])
            found.append((int(rows[i + 1, 2]), int(rows[i + 1, 3]), first_split, first_position))
        return found


def _write_shard(plan_dir: Path, split: str, index: int, lines: list) -> ShardRef:
    path = plan_dir / f"{split}-{index:05d}.json"
    path.write_text(json.dumps(lines), encoding="utf-8")  # ASCII: a lone surrogate in an id stays escaped
    return ShardRef(split, index, str(path), len(lines))


def plan_splits(source: EmoSetSource, splits: tuple[str, ...], plan_dir: str | Path, *, shard_size: int,
                class_positions: bool, content: bool = False) -> dict[str, SplitPlan]:
    """Cut ``splits`` of ``source`` into shards of ``shard_size`` entries, writing plan files to ``plan_dir``.

    ``class_positions``: record each entry's position within its class (needed by EmoVIT's sampling).
    ``content``: hash every image and mark those byte-identical to an image of an earlier split.
    """
    plan_dir = Path(plan_dir)
    plan_dir.mkdir(parents=True, exist_ok=True)
    ids, images, contents = Digests(), Digests(), Digests()
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
                    ids.add(entry.id, split_index, position)
                    image = source.resolved_image(entry)
                    if image:
                        images.add(image, split_index, position)
                        digest = content and image_digest(image)
                        if digest:
                            contents.add(digest, split_index, position)
                lines.append([position, class_index, entry.emotion, entry.id, entry.image, entry.annotation])
            if len(lines) == shard_size:
                refs.append(_write_shard(plan_dir, split, len(refs), lines))
                lines = []
        if lines:
            refs.append(_write_shard(plan_dir, split, len(refs), lines))
        plans[split] = SplitPlan(split, position + 1, refs)
    for store, field_name, across_only in ((ids, "duplicates", False), (images, "duplicate_images", False),
                                           (contents, "duplicate_contents", True)):
        for split_index, position, first, _ in store.repeats():
            if across_only and first == split_index:
                continue
            shard = plans[splits[split_index]].shards[position // shard_size]
            getattr(shard, field_name)[position] = splits[first]
    return plans


def image_digest(path: str) -> str | None:
    """sha256 of a regular file's bytes (None when it cannot be read: the shard will say why)."""
    from builder.sources.imagefiles import ImageProblem, read_regular

    try:
        return hashlib.sha256(read_regular(path)).hexdigest()
    except (OSError, ImageProblem):
        return None


def read_shard(shard: ShardRef) -> list[tuple[SplitEntry | QuarantineEntry, int, Duplicate]]:
    """The entries of a shard as ``(entry, class_index, duplicate)``."""
    entries = []
    for value in json.loads(Path(shard.path).read_text(encoding="utf-8")):
        if isinstance(value, dict):
            entries.append((QuarantineEntry(**value["quarantine"]), -1, NO_DUPLICATE))
            continue
        position, class_index, emotion, entry_id, image, annotation = value
        entry = SplitEntry(shard.split, position, emotion, entry_id, image, annotation)
        duplicate = Duplicate(shard.duplicates.get(position), shard.duplicate_images.get(position),
                              shard.duplicate_contents.get(position))
        entries.append((entry, class_index, duplicate))
    return entries
