"""The one JSON-lines reader and writer of the project.

JSON lines are split on ``\\n`` only: U+2028, U+2029, U+0085 and the other characters that
:meth:`str.splitlines` treats as line breaks are valid inside JSON strings (an API model's answer, a
VLMEvalKit cell, a caption) and must never cut a record in two. A UTF-8 byte-order mark at the start of a
file and a ``\\r`` before each ``\\n`` (files written on Windows) are accepted; blank lines are skipped.

Every writer emits strict JSON (``allow_nan=False``): ``NaN`` and ``Infinity`` are not JSON, and a value
that holds them is a bug to be reported where it was made, not a line that other tools cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOM = "\ufeff"


@dataclass(frozen=True)
class BadLine:
    """A line that is not a JSON value: its 1-based number and the parser's message."""

    number: int
    text: str
    message: str


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for every non-blank line of ``text``, split on ``\\n`` only (1-based numbers)."""
    text = text.removeprefix(BOM)
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            yield number, line


def parse_lines(text: str) -> Iterator[tuple[int, Any | BadLine]]:
    """``(number, value)`` for every non-blank line; a line that is not JSON gives a :class:`BadLine`."""
    for number, line in split_lines(text):
        try:
            yield number, json.loads(line)
        except (ValueError, RecursionError) as exc:
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or type(exc).__name__
            yield number, BadLine(number, line, message)


def read_text(path: str | Path) -> str:
    """A JSON-lines file's text (UTF-8; a leading byte-order mark is dropped by :func:`split_lines`).

    Raises :class:`OSError` or :class:`UnicodeDecodeError`: callers name the file in their own error.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def dumps_line(value: Any) -> str:
    """One JSON line (UTF-8 characters kept, strict JSON), ending with ``\\n``."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False) + "\n"


def write_lines(path: str | Path, values: Iterable[Any]) -> int:
    """Write ``values`` as JSON lines to ``path`` (replacing it); returns how many were written."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for value in values:
            handle.write(dumps_line(value))
            count += 1
    return count
