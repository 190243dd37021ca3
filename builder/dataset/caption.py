"""``emovit caption``: caption a build's images ahead of the build, with as many processes as the launcher
starts (``torchrun`` / ``accelerate launch``, one machine or several), into the caption cache.

It takes ``emovit build``'s options and captions exactly the images that build will caption (same source
checks, curation and sampling); the build then finds every caption in the cache::

    torchrun --nproc-per-node 8 $(which emovit) caption --emoset-root EmoSet --captioner blip2:Salesforce/blip2-opt-2.7b
    emovit build --emoset-root EmoSet --captioner blip2:Salesforce/blip2-opt-2.7b --out build

How the work is split: rank 0 merges what an earlier, killed run left in its part databases, plans the build
into ``<cache_dir>/caption-plans/<run>/`` (cut into units of ``--shard-images`` entries) and hands every
process the list of units; process ``r`` of ``W`` takes units ``r, r + W, ...``, reads, checks and selects
their entries and captions the images not yet in the cache (the cache as it was when the run started, read
without locks), writing its captions to its own part database. At the end rank 0 merges the parts into the
cache and prints what each process did. Without a launcher it is one process doing all units. ``--cache-dir``
must be a folder every process can reach (shared storage when the processes run on several machines).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from schemas.errors import UsageError

PLANS_DIR = "caption-plans"


@dataclass
class CaptionTally:
    """What one process did."""

    rank: int
    units: int = 0
    images: int = 0
    cached: int = 0
    captioned: int = 0
    failed: int = 0


def caption_build(config, *, cache_dir: str | Path, procs=None, progress: bool = False) -> list[CaptionTally]:
    """Caption this process's share of the images the build of ``config`` (a
    :class:`~builder.dataset.config.BuildConfig`) will caption; returns every process's tally (in rank
    order; a launched run gathers them)."""
    from builder.captions.parallel import Processes, RankCaptionCache, merge_parts
    from builder.dataset.shard import ShardWorker
    from builder.storage import default_cache_dir

    procs = procs or Processes()
    cache_dir = str(cache_dir or default_cache_dir())
    captioner = config.make_captioner(cache_dir)
    if not captioner.cacheable or captioner.cache_dir is None:
        raise UsageError(f"captioner {config.captioner!r} keeps no cache: there is nothing to caption ahead of the "
                         "build (use blip2:<model> or file:<path>)")
    plan = None
    if procs.is_main:
        plan = _plan(config, cache_dir)
    plan_dir, units, problem = procs.share(plan)
    if problem:
        raise UsageError(problem)
    worker = ShardWorker(config, cache_dir=cache_dir)
    cache = RankCaptionCache(cache_dir, procs.rank)
    tally = CaptionTally(rank=procs.rank)
    mine = procs.mine(units)
    try:
        from tqdm.auto import tqdm

        for unit in tqdm(mine, desc=f"caption units (rank {procs.rank} of {procs.world})", unit="unit",
                         disable=not (progress and procs.is_main)):
            records = [record for record, _ in worker.select(unit).records]
            outcome = worker.captioner.captions(records, progress=False, cache=cache)
            tally.units += 1
            tally.images += len(records)
            tally.cached += outcome.cached
            tally.captioned += outcome.computed
            tally.failed += len(outcome.missing)
    finally:
        cache.close()
    tallies = [CaptionTally(**t) if isinstance(t, dict) else t for t in procs.gather(asdict(tally))]
    procs.wait()
    if procs.is_main:
        merge_parts(cache_dir)
        shutil.rmtree(plan_dir, ignore_errors=True)
        with contextlib.suppress(OSError):  # other runs' plans may still be there
            Path(plan_dir).parent.rmdir()
    return tallies


def _plan(config, cache_dir: str) -> tuple[str | None, list, str | None]:
    """Rank 0: settle an earlier run's parts, freeze the cache for the readers, plan the units."""
    from builder.captions.base import CaptionCache
    from builder.captions.parallel import merge_parts
    from builder.dataset.plan import plan_splits
    from builder.sources.emoset import EmoSetSource

    merge_parts(cache_dir)
    cache = CaptionCache(cache_dir)
    cache.checkpoint()
    cache.close()
    source = EmoSetSource(config.data_dir, verify_images=False)
    splits = tuple(config.splits or source.splits)
    unknown = [split for split in splits if split not in source.splits]
    if unknown:
        return None, [], f"{config.data_dir}: no split(s) {', '.join(unknown)} (have {', '.join(source.splits)})"
    plan_dir = Path(cache_dir) / PLANS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    plans = plan_splits(source, splits, plan_dir, shard_size=config.shard_images,
                        class_positions=config.sampling == "emovit")
    return str(plan_dir), [unit for split in splits for unit in plans[split].shards], None


# ---------------------------------------------------------------------------------------------------- CLI
def add_arguments(parser) -> None:
    from builder.dataset.build import add_arguments as build_arguments

    build_arguments(parser)
    parser.add_argument("--shard-images", type=int, default=500,
                        help="entries per unit of work handed to a process (default 500)")


def run(args) -> int:
    from tabulate import tabulate

    from builder.captions.parallel import processes
    from builder.dataset.build import config_from_args

    if args.shard_images < 1:
        raise UsageError(f"--shard-images must be >= 1, got {args.shard_images}")
    config = replace(config_from_args(args), shard_images=args.shard_images)
    procs = processes()
    tallies = caption_build(config, cache_dir=args.cache_dir, procs=procs, progress=not args.quiet)
    if procs.is_main:
        rows = [[t.rank, t.units, t.images, t.cached, t.captioned, t.failed] for t in tallies]
        rows.append(["all", *(sum(row[i] for row in rows) for i in range(1, 6))])
        print(tabulate(rows, headers=["rank", "units", "images", "already cached", "captioned", "failed"]))
        print(f"\ncaptions are in {Path(args.cache_dir) / 'captions.sqlite'}; `emovit build` with the same options "
              "reads them from there")
    return 0
