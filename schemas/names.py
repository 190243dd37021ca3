"""File and folder names for strings we did not write: the one place where data becomes a name on disk.

A model, task, label, id or dataset name read from another tool's file is data, never a path. Where such a
string must name a file or a folder (a run folder of an import, a plot, a details file of a published
leaderboard), :func:`safe_name` turns it into one plain, bounded name:

* a string that already is a plain name (ASCII letters, digits, ``.``, ``_``, ``-``; starting with a letter
  or digit; ending with a letter, digit or ``_``; no ``..`` or ``--``; at most :data:`MAX_LENGTH` characters;
  not a name Windows reserves such as ``CON``) is kept as it is, so everyday names stay readable;
* any other string becomes its plain characters (every other run of characters, and every run of ``.``,
  ``_``, ``-``, turned into one character; cut short) followed by ``_`` and the first :data:`DIGEST_LENGTH`
  hex digits of the string's sha256. A plain string
  that happens to end like that is hashed too, so a kept name can never equal a hashed one.

Every name is also a valid Hugging Face repository name. Two different strings can only share a hashed name
through a sha256 collision; :func:`unique_names`, which names a whole set of strings that go into one
folder, also gives hashed names to strings whose names differ only in case (one file on macOS and Windows)
and refuses, rather than overwrite, if two names still clash. The original string always stays inside the
file's contents.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Mapping
from typing import TypeVar

from schemas.errors import UsageError

#: Longest name :func:`safe_name` returns.
MAX_LENGTH = 64
#: Hex digits of the sha256 that end a hashed name.
DIGEST_LENGTH = 12

_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")
_HASHED_TAIL = re.compile(rf"_[0-9a-f]{{{DIGEST_LENGTH}}}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}

Key = TypeVar("Key", bound=Hashable)


def _is_plain(text: str, max_length: int) -> bool:
    return (len(text) <= max_length and _PLAIN.fullmatch(text) is not None and ".." not in text
            and "--" not in text and _HASHED_TAIL.search(text) is None
            and text.split(".", 1)[0].lower() not in _RESERVED)


def hashed_name(text: str, *, salt: str = "", max_length: int = MAX_LENGTH) -> str:
    """The hashed form of ``text``: its letters and digits, ``_``, and a digest of ``text`` (and ``salt``)."""
    digest = hashlib.sha256(f"{text}\0{salt}".encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_LENGTH]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text)
    stem = re.sub(r"([._-])[._-]+", r"\1", stem).strip("._-")  # no "..", "--", or a leading dot
    stem = stem[: max(1, max_length - DIGEST_LENGTH - 3)].rstrip("._-") or "x"
    if stem.split(".", 1)[0].lower() in _RESERVED:  # "NUL.0_..." is still Windows' NUL device
        stem = f"x_{stem}"
    return f"{stem}_{digest}"


def safe_name(text: str, *, max_length: int = MAX_LENGTH) -> str:
    """A plain, bounded file or folder name for any string (see the module docstring); the same string
    always gets the same name."""
    if not isinstance(text, str):
        text = str(text)
    return text if _is_plain(text, max_length) else hashed_name(text, max_length=max_length)


def org_name_text(name: str) -> str:
    """``org/name`` (a Hub id, as lmms-eval names its folders) as ``org__name`` when both halves are plain
    names; any other string unchanged. Feed the result to :func:`unique_names`, which settles clashes."""
    org, sep, rest = name.partition("/")
    if sep and _is_plain(org, MAX_LENGTH) and _is_plain(rest, MAX_LENGTH):
        return f"{org}__{rest}"
    return name


def unique_names(texts: Mapping[Key, str], *, max_length: int = MAX_LENGTH) -> dict[Key, str]:
    """A name for each key of ``texts`` (its string through :func:`safe_name`), all different even when
    compared without case: keys whose names would clash get hashed names salted with the key. Raises
    :class:`~schemas.errors.UsageError` if two names still clash (a digest collision: never overwrite)."""
    names = {key: safe_name(text, max_length=max_length) for key, text in texts.items()}
    groups: dict[str, list[Key]] = {}
    for key, name in names.items():
        groups.setdefault(name.casefold(), []).append(key)
    for keys in groups.values():
        if len(keys) > 1:
            for key in keys:
                names[key] = hashed_name(texts[key], salt=repr(key), max_length=max_length)
    seen: dict[str, Key] = {}
    for key, name in names.items():
        other = seen.setdefault(name.casefold(), key)
        if other != key:
            raise UsageError(f"{texts[other]!r} and {texts[key]!r} would be written to the same file name "
                             f"{name!r}; rename one of them")
    return names


__all__ = ["DIGEST_LENGTH", "MAX_LENGTH", "hashed_name", "org_name_text", "safe_name", "unique_names"]
