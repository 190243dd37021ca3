"""The output folders of ``emovit bench`` commands: made (or refused) in one line before anything is written,
and every file written proven to stay inside them, whatever names the data holds."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import UsageError


def output_folder(out: str | Path, what: str) -> Path:
    """``out`` as a writable folder (created with its parents when missing); one :class:`UsageError` line when
    it names a file or a place that cannot be written. ``what`` says what goes there (for the message)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder (--out names the folder for {what})")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create the folder for {what} ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: cannot write {what} into this folder (permission denied)")
    return out


def is_inside(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` (followed through symlinks) lies inside ``folder``."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def inside(folder: Path, *parts: str) -> Path:
    """``folder/part/...`` after checking it stays inside ``folder`` (parts are made by
    :func:`schemas.names.safe_name`; this is the last guard, never the first)."""
    target = folder.joinpath(*parts)
    if any(part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part for part in parts) \
            or not is_inside(target, folder):
        raise UsageError(f"{folder}: refusing to write {'/'.join(parts)!r}: not a plain name inside the folder")
    return target


@contextmanager
def writing(what: str, out: Path):
    """A context that turns an ``OSError`` while writing into one :class:`UsageError` line."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"{getattr(exc, 'filename', None) or out}: cannot write {what} "
                         f"({exc.strerror or exc})") from None


__all__ = ["inside", "is_inside", "output_folder", "writing"]
