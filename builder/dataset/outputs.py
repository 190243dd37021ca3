"""Output folders written all at once: staged beside their destination and swapped in on success.

A command that writes a folder (``emovit build``, ``emovit export``) checks the destination first (missing,
empty, or an earlier output of the same command; anything else is refused), writes into a hidden sibling
on the same file system, and renames it into place only when everything succeeded. A failure leaves the
previous output untouched and no half-written folder behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from schemas.errors import UsageError


def check_output_folder(out: Path, is_ours: Callable[[Path], bool], what: str) -> None:
    """``out`` may be missing, empty or an earlier ``what`` (``is_ours``); anything else is a UsageError."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_ours(out):
        raise UsageError(f"{out}: exists, is not empty and is not {what}; choose an empty or new --out")


def staging_folder(out: Path) -> Path:
    """A fresh hidden sibling of ``out`` (same file system, so the final move is a rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def swap_into_place(ready: Path, out: Path) -> None:
    """Replace ``out`` (missing, empty or an earlier output) by the finished folder ``ready``."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
    os.rename(ready, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def safe_child(folder: Path, name: str) -> Path:
    """``folder / name`` for a plain file name; refuses names that would leave ``folder`` (``..``, ``/``)."""
    target = folder / name
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name \
            or target.resolve().parent != folder.resolve():
        raise UsageError(f"{folder}: refusing to write {name!r}: not a plain file name inside the folder")
    return target
