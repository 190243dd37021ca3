"""What every held-out dataset reader shares: root checks, path checks made before anything is opened, the
quarantine, and validation of the sample table in chunks.

A reader streams its dataset's *entries* (one per labelled image the label source states, plus one per image
file no label source mentions): each is a :class:`Candidate` or, when the label source itself is unusable for
that entry (a malformed line, a tied vote, an unknown label), a :class:`~builder.sources.records.QuarantineEntry`.
:meth:`HeldoutReader.read` then checks each candidate's file — the path must stay inside the root (``..``,
absolute paths and symlinks leaving the root are never opened), the file must exist and be a regular file,
and with ``verify_images`` PIL must be able to verify it — and validates the rows against the dataset's pandera
schema (:func:`schemas.heldout.heldout_schema`) in chunks. Every entry ends as a table row or a quarantine
entry with a stable ``code`` and a ``reason`` naming the file: ``rows + quarantined = entries``.

One image is scored once: every path is normalised before it becomes an id (``anger/./2.jpg`` is
``anger/2.jpg``, :func:`normalised`), and an entry whose file is one an earlier entry already reads (the same
id, or a symlink inside the root to that file) is ``duplicate_entry``. Label files are split into lines on
``\\n`` only (``\\r\\n`` and a lone ``\\r`` too), never on the other characters :meth:`str.splitlines` breaks on.

Quarantine codes: ``path_escape``, ``missing_image``, ``undecodable_image``, ``unlabelled``, ``unknown_label``,
``malformed_line``, ``duplicate_entry``, ``conflicting_labels``, ``tied_votes``, ``file_name_clash``,
``out_of_range``, ``out_of_vocabulary``.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import pandas as pd

from builder.sources.records import QuarantineEntry
from schemas.errors import UsageError
from schemas.heldout import heldout_schema
from schemas.validation import validate_frame

STAGE = "source"
#: File suffixes read as images (compared lower-cased); anything else in an image folder is ignored and noted.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
#: How many names a note lists before it only counts.
NOTE_EXAMPLES = 20


class HeldoutRootError(UsageError):
    """The root cannot be read as the dataset at all: missing, another dataset, or its label file is absent."""


class Rejected(Exception):
    """An entry that ends in the quarantine (raised while checking it)."""

    def __init__(self, code: str, reason: str, field_name: str | None = None):
        super().__init__(reason)
        self.code, self.reason, self.field = code, reason, field_name


@dataclass(frozen=True, slots=True)
class Candidate:
    """One labelled image as its label source states it, before its file is checked.

    ``id`` is the image path relative to the root (``/``-separated); ``fields`` holds the dataset's extra columns;
    ``source`` names where the label came from (``ground_truth.txt:12``, a folder), for quarantine reasons.
    """

    id: str
    label: str
    source: str
    fields: dict = field(default_factory=dict)


@dataclass
class HeldoutRead:
    """A dataset read: its sample table, its quarantine, how many entries there were and what was noted."""

    dataset: str
    root: str
    variant: object
    table: pd.DataFrame
    quarantined: list[QuarantineEntry]
    entries: int
    notes: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.table)

    def summary(self) -> dict:
        """Counts for reports and run provenance (``balanced``: rows + quarantined = entries)."""
        return {
            "dataset": self.dataset, "root": self.root, "variant": self.variant, "entries": self.entries,
            "rows": self.rows, "quarantined": len(self.quarantined),
            "balanced": self.rows + len(self.quarantined) == self.entries,
            "labels": dict(sorted(Counter(self.table["label"]).items())) if self.rows else {},
            "quarantine_codes": dict(sorted(Counter(q.code for q in self.quarantined).items())),
            "notes": self.notes,
        }


def is_relative(path: str) -> bool:
    """A non-empty relative path with no ``..`` component and no drive: it cannot leave the root."""
    if not path or path[0] in "/\\" or os.path.isabs(path):
        return False
    parts = path.replace("\\", "/").split("/")
    return ".." not in parts and ":" not in parts[0] and "" not in parts


def normalised(path: str) -> str:
    """``path`` without ``.`` components and repeated ``/`` (``anger/./2.jpg`` -> ``anger/2.jpg``), so one
    file has one id; an absolute path, or one with ``..``, is returned as it is (it is refused later)."""
    if not path or path[0] in "/\\":
        return path
    parts = path.split("/")
    if ".." in parts:
        return path
    kept = [part for part in parts if part not in ("", ".")]
    return "/".join(kept) if kept else path


def split_text_lines(text: str) -> list[str]:
    """The lines of a text file: split on ``\\n`` (``\\r\\n`` and, in a file without ``\\n``, ``\\r``),
    never on U+2028, U+0085, form feeds or the other characters :meth:`str.splitlines` breaks on."""
    text = text.removeprefix("\ufeff")
    separator = "\n" if "\n" in text or "\r" not in text else "\r"
    lines = [line.removesuffix("\r") for line in text.split(separator)]
    return lines[:-1] if lines and lines[-1] == "" else lines


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class HeldoutReader:
    """Base of the per-dataset readers (see the module docstring).

    Args:
        root: the dataset's root folder, as unpacked.
        variant: the dataset variant (Twitter I's agreement level, WEBEmo's split); ``None``: the default.
        verify_images: run PIL's structural ``verify`` on every image (off: existence and file type only).
        chunk_size: rows validated per pandera call.
    """

    #: Registry name (``schemas.heldout.DATASETS``), human name, and the layout a root must have (for errors).
    dataset: ClassVar[str] = ""
    title: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    #: Allowed variants, the default first (empty: the dataset has none).
    variants: ClassVar[tuple] = ()

    def __init__(self, root: str | Path, *, variant=None, verify_images: bool = False, chunk_size: int = 8192):
        self.root = Path(root)
        if not self.root.is_dir():
            raise HeldoutRootError(f"{self.root}: {self.title} root not found or not a directory "
                                   f"(expected {self.layout})")
        if variant is None:
            variant = self.variants[0] if self.variants else None
        elif variant not in self.variants:
            allowed = ", ".join(map(str, self.variants)) or "none"
            raise UsageError(f"{self.title} has no variant {variant!r} (variants: {allowed})")
        self.variant = variant
        self.verify_images = verify_images
        self.chunk_size = chunk_size
        self.notes: dict = {}
        self._root_real = os.path.realpath(self.root)
        self._real_dirs: dict[str, str] = {}
        self.check_root()

    # ------------------------------------------------------------------ to implement
    def check_root(self) -> None:
        """Raise :class:`HeldoutRootError` when the root is not this dataset (called on construction)."""

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        """Every entry of the dataset, in a fixed order."""
        raise NotImplementedError

    @property
    def split(self) -> str:
        """The split name quarantine entries carry (the dataset's split where it has one)."""
        return "all"

    # ------------------------------------------------------------------ helpers for readers
    def not_this_dataset(self, problem: str) -> HeldoutRootError:
        """The one-line error for a root that is not this dataset."""
        return HeldoutRootError(f"{self.root}: not the {self.title} layout: {problem} (expected {self.layout})")

    def reject(self, entry_id: str, code: str, reason: str, source: str, field_name: str | None = None
               ) -> QuarantineEntry:
        return QuarantineEntry(id=entry_id, split=self.split, source=source, stage=STAGE, code=code, reason=reason,
                               field=field_name)

    def note(self, key: str, value: str) -> None:
        """Count ``value`` under ``notes[key]`` and keep the first :data:`NOTE_EXAMPLES` of them."""
        entry = self.notes.setdefault(key, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < NOTE_EXAMPLES:
            entry["examples"].append(value)

    def read_lines(self, path: Path) -> list[str]:
        """The lines of a label file (BOM and line endings removed); an unreadable file is a root error."""
        try:
            return split_text_lines(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise HeldoutRootError(f"{path}: label file is not UTF-8 text ({exc.reason} at byte {exc.start})") \
                from None
        except OSError as exc:
            raise HeldoutRootError(f"{path}: cannot read label file ({exc.strerror})") from None

    def listing(self, rel_dir: str) -> list[os.DirEntry]:
        """The entries of a folder under the root, sorted by name, hidden files left out."""
        with os.scandir(os.path.join(self._root_real, rel_dir)) as found:
            return sorted((e for e in found if not e.name.startswith(".")), key=lambda e: e.name)

    def walk_images(self, rel_dir: str) -> Iterator[str]:
        """Relative paths of the image files under ``rel_dir`` (any depth, sorted); other files are noted as
        ``ignored_files``; folder symlinks are not followed."""
        stack = [rel_dir]
        while stack:
            current = stack.pop()
            subdirs = []
            for item in self.listing(current):
                rel = f"{current}/{item.name}"
                if item.is_dir(follow_symlinks=False):
                    subdirs.append(rel)
                elif is_image_name(item.name):
                    yield rel
                else:
                    self.note("ignored_files", rel)
            stack.extend(reversed(subdirs))

    def class_folder_images(self, rel_dir: str, labels: tuple[str, ...],
                            fields=lambda image: {}) -> Iterator[Candidate | QuarantineEntry]:
        """Every image under ``rel_dir/<label>/`` (any depth) as a candidate whose gold is the folder, with
        ``fields(image)`` as its extra fields; an image in a folder that is not one of ``labels`` is
        ``unknown_label``, one directly in ``rel_dir`` is ``unlabelled``; other files are noted."""
        for item in self.listing(rel_dir):
            rel = f"{rel_dir}/{item.name}"
            if not item.is_dir(follow_symlinks=False):
                if is_image_name(item.name):
                    yield self.reject(rel, "unlabelled", f"{rel}: image outside the emotion folders", rel, "label")
                else:
                    self.note("ignored_files", rel)
                continue
            for image in self.walk_images(rel):
                if item.name in labels:
                    yield Candidate(image, item.name, f"folder {rel}/", fields(image))
                else:
                    yield self.reject(image, "unknown_label", f"{image}: folder {item.name!r} is not one of "
                                      f"{self.title}'s emotions ({', '.join(labels)})", image, "label")

    # ------------------------------------------------------------------ files
    def check_image(self, rel: str, source: str) -> str:
        """The absolute path of image ``rel``, proven to stay inside the root before anything is opened."""
        return self._checked(rel, source)[0]

    def _checked(self, rel: str, source: str) -> tuple[str, str]:
        """:meth:`check_image`'s path and the real path of the file it reads (symlinks followed)."""
        if not is_relative(rel):
            raise Rejected("path_escape", f"{rel!r} ({source}): path leaves the dataset root; not opened", "image")
        if "\0" in rel:
            raise Rejected("missing_image", f"{rel!r} ({source}): not a possible file name", "image")
        full = os.path.join(self._root_real, rel)
        parent = os.path.dirname(full)
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        inside = self._root_real + os.sep
        if not (real_parent + os.sep).startswith(inside):
            raise Rejected("path_escape", f"{rel} ({source}): folder resolves outside the dataset root; not opened",
                           "image")
        try:
            mode = os.lstat(full).st_mode
        except (FileNotFoundError, NotADirectoryError):
            raise Rejected("missing_image", f"{rel}: image file not found ({source})", "image") from None
        except OSError as exc:
            raise Rejected("missing_image", f"{rel!r:.200}: cannot read it ({exc.strerror}; {source})", "image") \
                from None
        real = os.path.join(real_parent, os.path.basename(full))
        if stat.S_ISLNK(mode):
            real = os.path.realpath(full)
            if not real.startswith(inside):
                raise Rejected("path_escape", f"{rel} ({source}): symlink points outside the dataset root; "
                               "not opened", "image")
            try:
                mode = os.stat(full).st_mode
            except OSError:
                raise Rejected("missing_image", f"{rel}: broken symlink ({source})", "image") from None
        if not stat.S_ISREG(mode):
            raise Rejected("missing_image", f"{rel}: not a regular file ({source})", "image")
        if self.verify_images:
            from PIL import Image

            try:
                with Image.open(full) as image:
                    image.verify()
            except Exception as exc:  # noqa: BLE001 - PIL raises many types for corrupt files
                raise Rejected("undecodable_image", f"{rel}: image cannot be decoded ({type(exc).__name__})",
                               "image") from None
        return full, real

    # ------------------------------------------------------------------ reading
    def read(self) -> HeldoutRead:
        """Read every entry into the validated sample table and the quarantine."""
        schema = heldout_schema(self.dataset)
        quarantined: list[QuarantineEntry] = []
        frames: list[pd.DataFrame] = []
        pending: list[tuple[Candidate, str]] = []
        seen: set[str] = set()
        files: dict[str, str] = {}  # real path of each file read -> the id reading it
        entries = 0
        for item in self.entries():
            entries += 1
            if isinstance(item, QuarantineEntry):
                quarantined.append(item)
                continue
            if normalised(item.id) != item.id:
                item = replace(item, id=normalised(item.id))
            if item.id in seen:
                quarantined.append(self.reject(item.id, "duplicate_entry", f"{item.id}: listed again ({item.source})",
                                               item.source, "id"))
                continue
            seen.add(item.id)
            try:
                full, real = self._checked(item.id, item.source)
            except Rejected as rejected:
                quarantined.append(self.reject(item.id, rejected.code, rejected.reason, item.id, rejected.field))
                continue
            first = files.setdefault(real, item.id)
            if first != item.id:
                quarantined.append(self.reject(item.id, "duplicate_entry", f"{item.id}: the same file as {first} "
                                               f"(a link to it; {item.source})", item.source, "id"))
                continue
            pending.append((item, full))
            if len(pending) >= self.chunk_size:
                frames.append(self._validated(pending, schema, quarantined))
                pending = []
        frames.append(self._validated(pending, schema, quarantined))
        table = pd.concat(frames, ignore_index=True)
        return HeldoutRead(self.dataset, str(self.root), self.variant, table, quarantined, entries, self.notes)

    def _frame(self, pending: list[tuple[Candidate, str]], schema) -> pd.DataFrame:
        columns: dict[str, list] = {"id": [], "image": [], "label": []}
        extra = [name for name in schema.columns if name not in columns]
        for name in extra:
            columns[name] = []
        for candidate, image in pending:
            columns["id"].append(candidate.id)
            columns["image"].append(image)
            columns["label"].append(candidate.label)
            for name in extra:
                columns[name].append(candidate.fields.get(name))
        frame = pd.DataFrame({name: pd.Series(values, dtype=_dtype(schema, name)) for name, values in columns.items()})
        return frame

    def _validated(self, pending, schema, quarantined: list[QuarantineEntry]) -> pd.DataFrame:
        frame = self._frame(pending, schema)
        if not pending:
            return frame
        outcome = validate_frame(frame, schema)
        for row, failures in outcome.failures.items():
            candidate = pending[row][0]
            first = failures[0]
            code = "out_of_vocabulary" if first.check.endswith("_vocabulary") else "out_of_range"
            details = "; ".join(f.describe() for f in failures)
            quarantined.append(self.reject(candidate.id, code, f"{candidate.id} ({candidate.source}): {details}",
                                           candidate.source, first.column))
        return outcome.valid.reset_index(drop=True)


def _dtype(schema, name: str) -> str:
    dtype = str(schema.columns[name].dtype)
    if dtype.startswith("int"):
        return "int64"
    if dtype.startswith("float"):
        return "float64"
    return "object"


__all__ = ["IMAGE_EXTENSIONS", "STAGE", "Candidate", "HeldoutRead", "HeldoutReader", "HeldoutRootError", "Rejected",
           "is_image_name", "is_relative", "normalised", "split_text_lines"]
