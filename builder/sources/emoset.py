"""Streaming reader for EmoSet-style trees (EmoSet-118K layout, split-less trees, EmoSet-3.3M-style trees).

Layout::

    <root>/info.json                      vocabularies (optional: falls back to the packaged copy)
    <root>/train.json val.json test.json  split lists (optional: without them every annotation is one split)
    <root>/annotation/<emotion>/<id>.json
    <root>/image/<emotion>/<id>.jpg

Every split entry ends either as a :class:`~builder.sources.records.SourceRecord` or as a
:class:`~builder.sources.records.QuarantineEntry` whose reason names the file and the field. Entries are streamed
(``ijson`` for split files, ``os.scandir`` for split-less trees) and validated in chunks, so memory does not
grow with the number of entries beyond one id per entry kept for duplicate detection.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from builder.sources.imagefiles import (
    DEFAULT_MAX_PIXELS,
    ImageProblem,
    check_max_pixels,
    open_image,
    read_regular,
    verify_image_bytes,
)
from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.annotations import annotation_schema
from schemas.errors import UsageError
from schemas.validation import validate_frame
from schemas.vocab import Vocabulary, VocabularyError, normalise_scene

#: Split files looked for at the root, in reading order.
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
#: The split name given to every entry of a tree without split files.
DEFAULT_SPLIT = "train"
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp")
STAGE = "source"
#: An image id is a plain file-name-safe token: exports turn it into a file name.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class SourceError(UsageError):
    """The tree cannot be read at all (missing root, malformed split file, no vocabulary)."""


@dataclass(frozen=True, slots=True)
class SplitEntry:
    """One line of a split file (or one annotation found by walking a split-less tree)."""

    split: str
    position: int
    emotion: str | None
    id: str
    image: str
    annotation: str


@dataclass
class SourceBatch:
    """A chunk of one split: the records that passed and the entries quarantined."""

    split: str
    records: list[SourceRecord] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    #: The split-list position of each record (parallel to ``records``).
    positions: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """What an entry repeats, found by the caller before the entry is checked: the split where its id
    (``id_of``), its resolved image file (``image_of``) or, when asked for, its image bytes (``content_of``)
    was first seen; None where it repeats nothing."""

    id_of: str | None = None
    image_of: str | None = None
    content_of: str | None = None


NO_DUPLICATE = Duplicate()


class _Rejected(Exception):
    def __init__(self, code: str, reason: str, field_name: str | None = None):
        super().__init__(reason)
        self.code, self.reason, self.field = code, reason, field_name


def _is_relative(path: str) -> bool:
    """A non-empty relative path with no ``..`` component, no drive (``C:``) and no NUL: it cannot leave the
    root."""
    if not path or path[0] in "/\\" or "\x00" in path or os.path.isabs(path):
        return False
    parts = path.replace("\\", "/").split("/")
    return ".." not in parts and ":" not in parts[0]


def _check_relative(path: str, split_file: str, field_name: str) -> None:
    if "\x00" in path:
        raise _Rejected("invalid_path", f"{split_file}: field '{field_name}' path {path!r} holds a NUL character; "
                        "not opened", field_name)
    if not _is_relative(path):
        raise _Rejected("path_escape", f"{split_file}: field '{field_name}' path {path!r} escapes the root; not opened",
                        field_name)


#: How deep an entry of a split file is built; deeper values are skipped and the entry is malformed.
MAX_ENTRY_DEPTH = 32
#: Stands for an entry nested deeper than :data:`MAX_ENTRY_DEPTH`.
TOO_DEEP = object()


def split_items(handle) -> Iterator[object]:
    """The items of the JSON list in ``handle``, built from ``ijson``'s flat event stream.

    ``ijson.items`` keeps a path string per nesting level, so memory grows with the square of the depth (a
    100 KB file of ``[`` takes gigabytes); here an item is built only to :data:`MAX_ENTRY_DEPTH` levels, a
    deeper one is read past in constant memory and comes out as :data:`TOO_DEEP`."""
    import ijson

    events = ijson.basic_parse(handle, use_float=True)
    first = next(events, (None, None))[0]
    if first != "start_array":
        raise ijson.JSONError("expected a JSON list of entries")
    stack: list = []  # the containers of the item being built, outermost first
    keys: list = []  # the pending key of each map on the stack
    depth, deep = 0, False

    def attach(value) -> None:
        parent = stack[-1]
        if isinstance(parent, list):
            parent.append(value)
        else:
            parent[keys.pop()] = value

    for event, value in events:
        if event in ("start_array", "start_map"):
            depth += 1
            deep = deep or depth > MAX_ENTRY_DEPTH
            if not deep:
                stack.append([] if event == "start_array" else {})
        elif event in ("end_array", "end_map"):
            if depth == 0:  # the end of the list itself: nothing may follow
                if next(events, None) is not None:
                    raise ijson.JSONError("content after the list of entries")
                return
            depth -= 1
            if deep:
                if depth == 0:
                    stack.clear()
                    keys.clear()
                    deep = False
                    yield TOO_DEEP
                continue
            done = stack.pop()
            if stack:
                attach(done)
            else:
                yield done
        elif deep:
            continue
        elif event == "map_key":
            keys.append(value)
        elif stack:
            attach(value)
        else:
            yield value  # a bare number, string, boolean or null as an entry
    raise ijson.IncompleteJSONError("premature end of the list of entries")


def counts_as_id(entry: SplitEntry) -> bool:
    """Whether ``entry`` claims its id (for duplicate detection): its paths stay inside and its id is valid.

    An entry rejected for a path escape or an invalid id never claims an id, so it cannot make a later,
    good entry a duplicate.
    """
    return _is_relative(entry.annotation) and _is_relative(entry.image) and bool(ID_PATTERN.fullmatch(entry.id))


class EmoSetSource:
    """An EmoSet-style tree on disk.

    Args:
        root: the tree's root directory.
        vocab: vocabulary to check against; default: the tree's ``info.json``, else the packaged one.
        vocab_fallback: when False, a tree without ``info.json`` (and no ``vocab``) is a :class:`SourceError`.
        verify_images: decode every image (JPEGs at 1/8 scale) and hash its bytes; off, only the file and its
            header (the pixel limit) are checked.
        max_pixels: the pixel limit (width x height, read from the header before decoding); over it an image
            is quarantined as ``image_too_large``.
        chunk_size: entries validated per pandera call.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        vocab: Vocabulary | None = None,
        vocab_fallback: bool = True,
        verify_images: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        chunk_size: int = 8192,
    ) -> None:
        self.root = Path(root)
        if "\x00" in str(root) or not self.root.is_dir():
            raise SourceError(f"{self.root}: EmoSet root not found or not a directory")
        self._root_real = os.path.realpath(self.root)
        self.vocab = vocab or self._load_vocab(vocab_fallback)
        self.verify_images = verify_images
        try:
            self.max_pixels = check_max_pixels(max_pixels)
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        self.chunk_size = chunk_size
        self._emotions = frozenset(self.vocab.emotions)
        self._schema = annotation_schema(self.vocab)
        self._real_dirs: dict[str, str] = {}
        self._seen_ids: dict[str, str] = {}
        self._seen_images: dict[str, str] = {}
        present = [name for name in SPLIT_NAMES if self._has_file(f"{name}.json", "split file")]
        self.has_split_files = bool(present)
        self.splits: tuple[str, ...] = tuple(present) if present else (DEFAULT_SPLIT,)

    # ------------------------------------------------------------------ set-up
    def _has_file(self, name: str, what: str) -> bool:
        """Whether the root holds ``name``; anything there that is not a regular file (a FIFO, a device, a
        folder, a broken link) is a :class:`SourceError`, never opened."""
        path = self.root / name
        if not os.path.lexists(path):
            return False
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise SourceError(f"{path}: {what} cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise SourceError(f"{path}: {what} is not a regular file; not opened")
        return True

    def _load_vocab(self, fallback: bool) -> Vocabulary:
        info = self.root / "info.json"
        if self._has_file("info.json", "vocabulary file"):
            try:
                return Vocabulary.from_file(info)
            except VocabularyError as exc:
                raise SourceError(str(exc)) from None
        if not fallback:
            raise SourceError(f"{info}: missing, and the packaged vocabulary fallback is disabled")
        return Vocabulary.default()

    # ------------------------------------------------------------------ entries
    def entries(self, split: str) -> Iterator[SplitEntry | QuarantineEntry]:
        """Stream the entries of ``split`` (malformed entries come out as quarantine entries)."""
        if split not in self.splits:
            raise SourceError(f"{self.root}: no split {split!r} (have {', '.join(self.splits)})")
        if self.has_split_files:
            yield from self._split_file_entries(split)
        else:
            yield from self._walked_entries(split)

    def _split_file_entries(self, split: str) -> Iterator[SplitEntry | QuarantineEntry]:
        import ijson

        path = self.root / f"{split}.json"
        name = path.name
        try:
            with open(path, "rb") as handle:
                if not handle.read(4096).lstrip().startswith(b"["):
                    raise SourceError(f"{path}: malformed split file: expected a JSON list of entries")
                handle.seek(0)
                for position, item in enumerate(split_items(handle)):
                    yield self._parse_entry(split, name, position, item)
        except ijson.JSONError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SourceError(f"{path}: malformed split file: {first}") from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot read split file: {exc.strerror}") from None

    def _parse_entry(self, split: str, name: str, position: int, item: object) -> SplitEntry | QuarantineEntry:
        if isinstance(item, list) and len(item) in (3, 4) and all(isinstance(x, str) for x in item):
            if len(item) == 3:
                emotion, image, annotation = item
                entry_id = annotation.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            else:
                emotion, entry_id, image, annotation = item
            return SplitEntry(split, position, emotion, entry_id, image, annotation)
        shown = "a value nested too deeply" if item is TOO_DEEP else f"{item!r:.120}"
        return QuarantineEntry(
            id=f"{split}#{position}", split=split, source=name, stage=STAGE, code="malformed_entry",
            reason=f"{name}: entry {position} is not [emotion, (id,) image_path, annotation_path]: {shown}",
        )

    def _walked_entries(self, split: str) -> Iterator[SplitEntry]:
        base = os.path.join(self._root_real, "annotation")
        if not os.path.isdir(base):
            raise SourceError(f"{self.root}: no split files and no annotation/ directory")
        position = 0
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            with os.scandir(os.path.join(base, rel_dir)) as listing:
                found = sorted(listing, key=lambda e: e.name)
            subdirs = []
            for item in found:
                rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
                if item.is_dir(follow_symlinks=False):
                    subdirs.append(rel)
                elif item.name.endswith(".json"):
                    top = rel.split("/", 1)[0]
                    stem = rel[: -len(".json")]
                    yield SplitEntry(split, position, top if top in self._emotions and "/" in rel else None,
                                     Path(stem).name, self._find_image(stem), f"annotation/{rel}")
                    position += 1
            stack.extend(reversed(subdirs))

    def _find_image(self, stem: str) -> str:
        for ext in IMAGE_EXTENSIONS:
            candidate = f"image/{stem}{ext}"
            if os.path.lexists(os.path.join(self._root_real, candidate)):
                return candidate
        return f"image/{stem}{IMAGE_EXTENSIONS[0]}"

    # ------------------------------------------------------------------ files
    def _inside(self, rel: str, field_name: str) -> tuple[str, int | None]:
        """Absolute path of ``rel``, proven to stay inside the root without opening it, and its ``lstat`` mode
        (None when nothing is there)."""
        full = os.path.join(self._root_real, rel)
        parent = os.path.dirname(full)
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        if not (real_parent + os.sep).startswith(self._root_real + os.sep):
            raise _Rejected("path_escape", f"{rel}: field '{field_name}' directory resolves outside the root; "
                            "not opened", field_name)
        try:
            mode = os.lstat(full).st_mode
        except FileNotFoundError:
            return full, None
        if stat.S_ISLNK(mode):
            real = os.path.realpath(full)
            if not real.startswith(self._root_real + os.sep):
                raise _Rejected("path_escape", f"{rel}: field '{field_name}' is a symlink pointing outside the "
                                "root; not opened", field_name)
        return full, mode

    def _regular(self, rel: str, full: str, mode: int | None, field_name: str, missing: str) -> str:
        """The resolved path of ``full`` when it is a regular file (a link inside the root is followed)."""
        if mode is not None and stat.S_ISLNK(mode):  # a link inside the root: what does it point to?
            try:
                mode = os.stat(full).st_mode
            except OSError:
                mode = None
        if mode is None:
            raise _Rejected(missing, f"{rel}: {field_name.removesuffix('_path')} file not found", field_name)
        if not stat.S_ISREG(mode):
            code = "unreadable_annotation" if field_name == "annotation_path" else "missing_image"
            raise _Rejected(code, f"{rel}: field '{field_name}' is not a regular file; not opened", field_name)
        return os.path.realpath(full)

    def _read_annotation(self, rel: str) -> dict:
        full, mode = self._inside(rel, "annotation_path")
        real = self._regular(rel, full, mode, "annotation_path", "missing_annotation")
        try:
            data = json.loads(read_regular(real))
        except FileNotFoundError:
            raise _Rejected("missing_annotation", f"{rel}: annotation file not found", "annotation_path") from None
        except ImageProblem as problem:
            raise _Rejected("unreadable_annotation", problem.reason, "annotation_path") from None
        except (OSError, ValueError) as exc:
            raise _Rejected("unreadable_annotation", f"{rel}: annotation is not readable JSON ({exc})",
                            "annotation_path") from None
        except RecursionError:
            raise _Rejected("unreadable_annotation", f"{rel}: annotation is not readable JSON (nested too deeply)",
                            "annotation_path") from None
        if not isinstance(data, dict):
            raise _Rejected("unreadable_annotation", f"{rel}: annotation is not a JSON object", "annotation_path")
        return data

    def resolved_image(self, entry: SplitEntry) -> str | None:
        """The resolved path of an entry's image (None when its path may not be opened): two entries with the
        same resolved path show the same file, whatever their ids and path spellings."""
        if not _is_relative(entry.image):
            return None
        try:
            full, mode = self._inside(entry.image, "image_path")
        except _Rejected:
            return None
        if mode is not None and stat.S_ISLNK(mode):
            return os.path.realpath(full)
        return os.path.join(self._real_dirs[os.path.dirname(full)], os.path.basename(full))

    def _check_image(self, rel: str) -> tuple[str, str | None]:
        """``(path, sha256 or None)`` of a usable image; the pixel limit always, decoding when verifying."""
        full, mode = self._inside(rel, "image_path")
        real = self._regular(rel, full, mode, "image_path", "missing_image")
        try:
            if self.verify_images:
                return full, verify_image_bytes(read_regular(real), self.max_pixels, rel).sha256
            with open(real, "rb") as handle:  # header only: the pixel limit (an unreadable header is not checked)
                open_image(handle, self.max_pixels, rel).close()
        except ImageProblem as problem:
            if problem.code == "undecodable_image" and not self.verify_images:
                return full, None
            raise _Rejected(problem.code, problem.reason, "image_path") from None
        except OSError as exc:
            raise _Rejected("missing_image", f"{rel}: image file cannot be read ({exc.strerror})",
                            "image_path") from None
        return full, None

    # ------------------------------------------------------------------ records
    def _candidate(self, entry: SplitEntry, split_file: str, duplicate: Duplicate) -> SourceRecord:
        _check_relative(entry.annotation, split_file, "annotation_path")
        _check_relative(entry.image, split_file, "image_path")
        if not ID_PATTERN.fullmatch(entry.id):
            raise _Rejected("invalid_id", f"{split_file}: field 'id' {entry.id!r} is not a plain file name "
                            "(letters, digits, '.', '_', '-'; no path separators)", "id")
        if duplicate.id_of is not None:
            raise _Rejected("duplicate_id", f"{split_file}: field 'id' {entry.id!r} already seen in split "
                            f"{duplicate.id_of}", "id")
        if duplicate.image_of is not None:
            raise _Rejected("duplicate_image", f"{split_file}: field 'image_path' {entry.image!r} of id "
                            f"{entry.id!r} is the image file of an earlier entry (split {duplicate.image_of})",
                            "image_path")
        if duplicate.content_of is not None:
            raise _Rejected("duplicate_content", f"{entry.image}: image of id {entry.id!r} is byte-identical to "
                            f"an image of split {duplicate.content_of}", "image_path")
        data = self._read_annotation(entry.annotation)
        ann = entry.annotation
        emotion = data.get("emotion")
        if not isinstance(emotion, str):
            raise _Rejected("missing_field", f"{ann}: field 'emotion' missing or not a string", "emotion")
        if entry.emotion is not None and emotion != entry.emotion:
            raise _Rejected("emotion_mismatch", f"{ann}: field 'emotion' is {emotion!r} but {split_file} "
                            f"says {entry.emotion!r}", "emotion")
        image, sha256 = self._check_image(entry.image)
        levels = {}
        for key in ("brightness", "colorfulness"):
            value = data.get(key)
            if value is None:
                levels[key] = None
                continue
            try:
                number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            except OverflowError:
                number = None
            if number is None or not math.isfinite(number):
                raise _Rejected("invalid_type", f"{ann}: field '{key}' must be a number (finite), got {value!r:.60}",
                                key)
            levels[key] = number
        text = {}
        for key in ("scene", "facial_expression", "human_action"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise _Rejected("invalid_type", f"{ann}: field '{key}' must be a string, got {value!r:.60}", key)
            text[key] = value.strip() if value else None
        objects = data.get("object", [])
        if objects is None:
            objects = []
        if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
            raise _Rejected("invalid_type", f"{ann}: field 'object' must be a list of strings, got {objects!r:.60}",
                            "object")
        scene = text["scene"]
        return SourceRecord(
            id=entry.id, split=entry.split, emotion=emotion, image_path=image,
            annotation_path=os.path.join(self._root_real, ann),
            brightness=levels["brightness"], colorfulness=levels["colorfulness"],
            scene=normalise_scene(scene) if scene else None, objects=tuple(objects),
            facial_expression=text["facial_expression"], human_action=text["human_action"], sha256=sha256,
        )

    def split_file_name(self, split: str) -> str:
        """How quarantine reasons name the list an entry came from."""
        return f"{split}.json" if self.has_split_files else "annotation/"

    def read(self, split: str) -> Iterator[SourceBatch]:
        """Stream ``split`` as validated batches of at most ``chunk_size`` entries.

        Ids and resolved image paths are remembered across calls on this source, so an id or an image file
        repeated in a later split is a duplicate (``duplicate_id``, ``duplicate_image``).
        """
        def with_duplicates():
            for entry in self.entries(split):
                duplicate = NO_DUPLICATE
                if isinstance(entry, SplitEntry) and counts_as_id(entry):
                    image = self.resolved_image(entry)
                    first_id = self._seen_ids.get(entry.id)
                    first_image = self._seen_images.get(image) if image else None
                    if first_id is None:
                        self._seen_ids[entry.id] = entry.split
                    if image and first_image is None:
                        self._seen_images[image] = entry.split
                    if first_id is not None or first_image is not None:
                        duplicate = Duplicate(first_id, first_image)
                yield entry, duplicate

        yield from self.check(split, with_duplicates())

    def check(self, split: str, entries: Iterable[tuple[SplitEntry | QuarantineEntry, Duplicate]]
              ) -> Iterator[SourceBatch]:
        """Check ``(entry, duplicate)`` pairs of ``split`` in validated batches of ``chunk_size``.

        ``duplicate`` says what the entry repeats (:class:`Duplicate`); the caller decides, so shards checked
        in parallel agree with one sequential read.
        """
        split_file = self.split_file_name(split)
        batch = SourceBatch(split)
        candidates: list[tuple[SourceRecord, str, int]] = []
        for entry, duplicate in entries:
            if isinstance(entry, QuarantineEntry):
                batch.quarantined.append(entry)
                continue
            try:
                candidates.append((self._candidate(entry, split_file, duplicate or NO_DUPLICATE), entry.annotation,
                                   entry.position))
            except _Rejected as rejected:
                if rejected.code in ("path_escape", "invalid_path", "duplicate_id", "duplicate_image", "invalid_id"):
                    culprit = split_file
                else:
                    culprit = entry.image if rejected.field == "image_path" else entry.annotation
                batch.quarantined.append(QuarantineEntry(
                    id=entry.id, split=split, source=culprit, stage=STAGE, code=rejected.code,
                    reason=rejected.reason, field=rejected.field))
            if len(candidates) >= self.chunk_size:
                yield self._validated(batch, candidates)
                batch, candidates = SourceBatch(split), []
        yield self._validated(batch, candidates)

    def declared_emotion(self, entry: SplitEntry) -> str | None:
        """The emotion a split entry states, or else its annotation's ``emotion`` field (None if unreadable)."""
        if entry.emotion is not None:
            return entry.emotion
        if not _is_relative(entry.annotation):
            return None
        try:
            value = self._read_annotation(entry.annotation).get("emotion")
        except _Rejected:
            return None
        return value if isinstance(value, str) else None

    def read_all(self, splits: tuple[str, ...] | None = None) -> Iterator[SourceBatch]:
        """Stream every split (or the given ones) in order."""
        for split in splits or self.splits:
            yield from self.read(split)

    def records(self, split: str) -> Iterator[SourceRecord]:
        """Only the records of ``split`` (quarantine is dropped: use :meth:`read` to keep it)."""
        for batch in self.read(split):
            yield from batch.records

    def _validated(self, batch: SourceBatch, candidates: list[tuple[SourceRecord, str, int]]) -> SourceBatch:
        if not candidates:
            return batch
        records = [record for record, _, _ in candidates]
        frame = pd.DataFrame({
            "id": [r.id for r in records],
            "split": [r.split for r in records],
            "emotion": [r.emotion for r in records],
            "image": [r.image_path for r in records],
            "brightness": pd.array([r.brightness for r in records], dtype="float64"),
            "colorfulness": pd.array([r.colorfulness for r in records], dtype="float64"),
            "scene": pd.Series([r.scene for r in records], dtype="object"),
            "objects": pd.Series([list(r.objects) for r in records], dtype="object"),
            "facial_expression": pd.Series([r.facial_expression for r in records], dtype="object"),
            "human_action": pd.Series([r.human_action for r in records], dtype="object"),
        })
        outcome = validate_frame(frame, self._schema)
        for row, (record, annotation, position) in enumerate(candidates):
            failures = outcome.failures.get(row)
            if not failures:
                batch.records.append(record)
                batch.positions.append(position)
                continue
            first = failures[0]
            code = "out_of_vocabulary" if first.check.startswith("in_") else "out_of_range"
            field_name = "object" if first.column == "objects" else first.column
            details = "; ".join(f.describe() for f in failures)
            batch.quarantined.append(QuarantineEntry(
                id=record.id, split=record.split, source=annotation, stage=STAGE, code=code,
                reason=f"{annotation}: {details}", field=field_name))
        return batch
