"""Output folders written all at once: staged beside their destination and swapped in on success.

A command that writes a folder (``emovit build``, ``emovit export``) checks the destination first (missing,
empty, or an earlier output of the same command; anything else is refused), takes a lock on it (a second
command writing the same folder stops with one line), writes into a hidden sibling on the same file system,
and renames it into place only when everything succeeded. A failure leaves the previous output untouched and
no half-written folder behind; a hidden sibling left by an interrupted run (``kill -9``, a power cut) is
removed by the next run that holds the lock, since only the lock's holder writes them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from schemas.errors import UsageError


def check_output_folder(out: Path, is_ours: Callable[[Path], bool], what: str) -> None:
    """``out`` may be missing, empty or an earlier ``what`` (``is_ours``); anything else is a UsageError."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not is_ours(out):
        raise UsageError(f"{out}: exists, is not empty and is not {what}; choose an empty or new --out")


def lock_path(out: Path) -> Path:
    """The lock file of output folder ``out`` (a hidden sibling)."""
    return out.parent / f".{out.name}.lock"


def stale_siblings(out: Path) -> list[Path]:
    """The hidden staging and replaced folders of ``out`` that earlier runs left behind (ours by name only:
    ``.<name>.partial-<pid>-<hex>`` and ``.<name>.old-<hex>``); call it only while holding the lock."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(partial-\d+-[0-9a-f]{{8}}|old-[0-9a-f]{{8}})")
    if not out.parent.is_dir():
        return []
    return sorted(path for path in out.parent.iterdir()
                  if pattern.fullmatch(path.name) and path.is_dir() and not path.is_symlink())


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the lock of ``out`` (refusing at once, with one line, when another process holds it) and remove
    the stale staging folders of interrupted runs."""
    import filelock

    out.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path(out)), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UsageError(f"{out}: another emovit command is writing this folder (lock {lock_path(out)}); wait for it "
                         "to finish or choose another --out") from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot take the output lock {lock_path(out)} ({exc.strerror})") from None
    try:
        for stale in stale_siblings(out):
            shutil.rmtree(stale, ignore_errors=True)
            print(f"removed {stale}, left by an interrupted run", file=sys.stderr)
        yield
    finally:
        # unlinked while still held: a contender that opened the old file sees it unlinked and tries again
        lock_path(out).unlink(missing_ok=True)
        lock.release()


@contextlib.contextmanager
def staged_output(out: Path, is_ours: Callable[[Path], bool], what: str) -> Iterator[Path]:
    """Check ``out``, lock it, and yield a fresh staging folder beside it (removed at the end, whatever
    happens); the caller swaps its finished folder into place with :func:`swap_into_place`."""
    check_output_folder(out, is_ours, what)
    with output_lock(out):
        check_output_folder(out, is_ours, what)  # again: the lock's previous holder may have changed it
        staging = staging_folder(out)
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)


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
