"""Plain values that flow between stages: source records and quarantine entries."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from schemas.jsonlines import dumps_line


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One EmoSet image with its annotation. Every attribute but ``emotion`` may be missing."""

    id: str
    split: str
    emotion: str
    image_path: str
    annotation_path: str
    brightness: float | None = None
    colorfulness: float | None = None
    scene: str | None = None
    objects: tuple[str, ...] = ()
    facial_expression: str | None = None
    human_action: str | None = None
    #: sha256 of the image's bytes when the reader decoded it (None when images were not verified).
    sha256: str | None = None

    def attributes(self) -> dict:
        """The attributes as a plain dict (``objects`` as a list)."""
        return {
            "brightness": self.brightness,
            "colorfulness": self.colorfulness,
            "scene": self.scene,
            "objects": list(self.objects),
            "facial_expression": self.facial_expression,
            "human_action": self.human_action,
        }


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """An input that did not make it into the output, and why.

    ``code`` is a stable machine-readable reason (e.g. ``missing_image``); ``reason`` is the human sentence,
    naming the file and the field; ``raw`` optionally keeps the rejected payload (e.g. an LLM response).
    """

    id: str
    split: str
    source: str
    stage: str
    code: str
    reason: str
    field: str | None = None
    raw: object = None

    def to_json(self) -> str:
        """The entry as one strict JSON line (no trailing newline); ``raw`` values JSON cannot hold become
        strings."""
        return dumps_line(_jsonable(asdict(self)))[:-1]


def _jsonable(value):
    """A value JSON can hold: containers walked, non-finite floats and unknown types as strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate read from a JSON string: keep it visible, as an escape
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)


def write_jsonl(path: str | Path | IO[str], entries: Iterable[QuarantineEntry]) -> int:
    """Write entries as JSON lines (:mod:`schemas.jsonlines` format); returns how many were written."""
    if isinstance(path, (str, Path)):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            return write_jsonl(handle, entries)
    count = 0
    for entry in entries:
        path.write(entry.to_json() + "\n")
        count += 1
    return count
