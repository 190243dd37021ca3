"""The ``file:<path>`` captioner: captions written by someone else, as JSONL or CSV.

* JSONL (``.jsonl``/``.json``, or any file whose first character is ``{``): one object per line with
  ``id`` and ``caption``, read by the project's one JSON-lines reader (:mod:`schemas.jsonlines`: split on
  ``\n`` only, so a U+2028 inside a caption is just a character).
* CSV (``.csv``, otherwise): a header with ``id`` and ``caption`` columns; a quoted caption may span lines
  (its line break becomes a space, as all whitespace does).

Ids are trimmed in both formats. The file must be a regular UTF-8 file (a byte-order mark is accepted).

An id the file does not cover, or covers with an empty caption, is reported in ``missing``; nothing is
invented. A malformed line, or an id given twice with different captions, is a :class:`CaptionFileError`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from builder.captions.base import CachingCaptioner, missing_entry
from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.errors import UsageError


class CaptionFileError(UsageError):
    """The caption file cannot be read."""


def _jsonl_rows(path: Path, text: str):
    from schemas.jsonlines import BadLine, parse_lines

    for number, row in parse_lines(text):
        if isinstance(row, BadLine):
            raise CaptionFileError(f"{path}:{number}: not valid JSON ({row.message})")
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("caption"), str):
            raise CaptionFileError(f"{path}:{number}: expected an object with string fields 'id' and 'caption'")
        yield number, row["id"].strip(), row["caption"]


def _csv_rows(path: Path, text: str):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or "id" not in reader.fieldnames or "caption" not in reader.fieldnames:
            raise CaptionFileError(f"{path}: CSV needs a header with 'id' and 'caption' columns, got "
                                   f"{reader.fieldnames}")
        for row in reader:
            if row.get("id") is None or row.get("caption") is None:
                raise CaptionFileError(f"{path}:{reader.line_num}: row has fewer columns than the header")
            yield reader.line_num, row["id"].strip(), row["caption"]
    except csv.Error as exc:
        raise CaptionFileError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def read_caption_file(path: str | Path) -> dict[str, str]:
    """Id -> caption from a JSONL or CSV file (ids trimmed, captions whitespace-normalised; may be empty)."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise CaptionFileError(f"{path}: caption file is not a regular file; not opened")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise CaptionFileError(f"{path}: cannot read caption file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise CaptionFileError(f"{path}: caption file is not UTF-8 (at byte offset {exc.start}: {exc.reason})") from None
    text = text.removeprefix("\ufeff")
    jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson") or \
        (path.suffix.lower() != ".csv" and text.lstrip().startswith("{"))
    captions: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, image_id, caption in (_jsonl_rows if jsonl else _csv_rows)(path, text):
        caption = " ".join(caption.split())
        if image_id in captions and captions[image_id] != caption:
            raise CaptionFileError(f"{path}:{number}: id {image_id!r} already has a different caption "
                                   f"(line {lines[image_id]})")
        captions[image_id] = caption
        lines.setdefault(image_id, number)
    return captions


class FileCaptioner(CachingCaptioner):
    """Captions read from a file (spec ``file:<path>``)."""

    batch_size = 100_000

    def __init__(self, path: str | Path, cache_dir: str | Path | None = None):
        super().__init__(cache_dir)
        self.path = Path(path)
        if "\x00" in str(path) or not os.path.lexists(self.path):
            raise CaptionFileError(f"{self.path}: caption file not found")
        if not self.path.is_file():
            raise CaptionFileError(f"{self.path}: caption file is not a regular file; not opened")
        self.name = f"file:{self.path}"
        self._captions: dict[str, str] | None = None

    @property
    def cache_key(self) -> str:
        # The file's content is part of the key: editing the file invalidates what was cached from it.
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
        return f"file:{self.path.resolve()}#{digest}"

    def content_key(self, record: SourceRecord) -> str:
        """The file gives captions by id (its own hash is in :attr:`cache_key`)."""
        return record.id

    def compute(self, records: Sequence[SourceRecord]) -> tuple[dict[str, str], list[QuarantineEntry]]:
        if self._captions is None:
            self._captions = read_caption_file(self.path)
        found: dict[str, str] = {}
        missing: list[QuarantineEntry] = []
        for record in records:
            caption = self._captions.get(record.id)
            if caption is None:
                missing.append(missing_entry(record, "missing_caption",
                                             f"{self.path}: no caption for id {record.id!r}", source=str(self.path)))
            elif not caption:
                missing.append(missing_entry(record, "empty_caption",
                                             f"{self.path}: caption for id {record.id!r} is empty", source=str(self.path)))
            else:
                found[record.id] = caption
        return found, missing
