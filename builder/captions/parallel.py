"""Captioning with several processes (``torchrun`` / ``accelerate launch``, one node or many).

* :func:`processes` says which process this is: under a launcher (``WORLD_SIZE`` > 1) accelerate's
  ``PartialState`` joins the launcher's process group (NCCL on GPUs, gloo on CPU); alone, rank 0 of 1.
* Every process reads the shared caption cache as a frozen snapshot (SQLite ``immutable``: no locks, so it
  is safe on network file systems where SQLite's locking is not) and writes the captions it computes into its
  own part database, ``<cache_dir>/caption-parts/rank-<r>/captions.sqlite``. Rank 0 merges the parts into
  the cache: once before the snapshot is taken (parts a killed run left behind) and once at the end. So the
  cache has one writer at a time, on one machine.

Whichever way captions arrive, the cache's own writes take SQLite's write lock up front
(:meth:`~builder.captions.base.CaptionCache.put_many`), so processes of one machine writing at once (a build
with ``--num-proc``) wait for each other instead of failing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from builder.captions.base import CaptionCache

PARTS_DIR = "caption-parts"
#: How long a process may wait for the others at a barrier (the slowest rank's share of the captions).
BARRIER_TIMEOUT = timedelta(hours=48)


@dataclass
class Processes:
    """This process's place among the launched processes (rank 0 of 1 when not launched)."""

    rank: int = 0
    world: int = 1
    wait: Callable[[], None] = field(default=lambda: None)
    share: Callable[[object], object] = field(default=lambda value: value)
    gather: Callable[[object], list] = field(default=lambda value: [value])

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mine(self, units: Sequence) -> list:
        """This process's share of ``units``: every ``world``-th one, starting at ``rank``."""
        return list(units[self.rank::self.world])


def processes() -> Processes:
    """Rank, world size and the collective calls; under ``torchrun`` / ``accelerate launch`` from accelerate's
    ``PartialState`` (gloo when no GPU is visible)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Processes()
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list, gather_object

    state = PartialState(cpu=not torch.cuda.is_available(), timeout=BARRIER_TIMEOUT)

    def share(value):
        box = [value]
        broadcast_object_list(box, from_process=0)
        return box[0]

    return Processes(rank=state.process_index, world=state.num_processes, wait=state.wait_for_everyone,
                     share=share, gather=lambda value: gather_object([value]))


def part_dir(cache_dir: str | Path, rank: int) -> Path:
    """Where process ``rank`` keeps the captions it computes until rank 0 merges them."""
    return Path(cache_dir) / PARTS_DIR / f"rank-{rank:05d}"


def merge_parts(cache_dir: str | Path) -> int:
    """Move every part database's captions into the cache (rank 0 only); returns how many were merged."""
    parts = Path(cache_dir) / PARTS_DIR
    if not parts.is_dir():
        return 0
    cache = CaptionCache(cache_dir)
    merged = 0
    try:
        for folder in sorted(parts.iterdir()):
            database = folder / "captions.sqlite"
            if database.is_file():
                part = sqlite3.connect(str(database), timeout=30.0)
                try:
                    rows = part.execute("SELECT captioner, content, caption FROM captions_by_content")
                    while page := rows.fetchmany(5000):
                        cache.put_rows(page)
                        merged += len(page)
                finally:
                    part.close()
            shutil.rmtree(folder)
        cache.checkpoint()
    finally:
        cache.close()
    parts.rmdir()
    return merged


class RankCaptionCache:
    """The cache as one of several processes sees it: the shared cache as a read-only snapshot, plus this
    process's own part database for what it computes (both looked up; new captions go to the part)."""

    def __init__(self, cache_dir: str | Path, rank: int):
        shared = Path(cache_dir) / "captions.sqlite"
        self._snapshot = None
        if shared.is_file():
            self._snapshot = sqlite3.connect(f"{shared.resolve().as_uri()}?immutable=1", uri=True)
        self._part = CaptionCache(part_dir(cache_dir, rank))

    def get_many(self, captioner: str, keys: Sequence[str]) -> dict[str, str]:
        found = self._part.get_many(captioner, keys)
        if self._snapshot is not None:
            found.update(CaptionCache.lookup(self._snapshot, captioner, [k for k in keys if k not in found]))
        return found

    def put_many(self, captioner: str, captions) -> None:
        self._part.put_many(captioner, captions)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
        self._part.close()
