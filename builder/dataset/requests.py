"""The LLM requests of a build, shard by shard: what ``--dry-run`` prices and what a batch backend
(``openai-batch:``) is handed up front, before the shards run.

Both walk the build's plan with a :class:`~builder.dataset.shard.ShardWorker` exactly as the shards will:
source checks, curation, sampling, captions. Only one shard's items are in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from builder.dataset.plan import ShardRef, read_shard
from builder.dataset.shard import Selection, ShardWorker
from builder.generation.base import GenerationItem
from builder.generation.prompts import LLM_KINDS
from builder.sources.emoset import SplitEntry


def shard_items(worker: ShardWorker, shard: ShardRef, captions: Callable | None = None
                ) -> tuple[Selection, list[GenerationItem]]:
    """A shard's selection and its conversation/reasoning items. ``captions(records) -> {id: caption}``
    replaces the build's captioner (the dry run uses cached captions only)."""
    selection = worker.select(shard)
    records = [record for record, _ in selection.records]
    texts = captions(records) if captions else worker.captioner.captions(records, progress=False).captions
    items = [GenerationItem(record, texts[record.id], kind) for record, kinds in selection.records
             if record.id in texts for kind in kinds if kind in LLM_KINDS]
    return selection, items


def asks_llm(worker: ShardWorker, shard: ShardRef) -> bool:
    """Whether any entry of ``shard`` can get a conversation or reasoning sample (read from its plan file
    alone; with EmoVIT's sampling most shards of a large tree get none)."""
    return any(set(worker.options.kinds_for(index)) & set(LLM_KINDS)
               for entry, index, _ in read_shard(shard) if isinstance(entry, SplitEntry))


def llm_items(worker: ShardWorker, shards: Iterable[ShardRef]) -> Iterator[GenerationItem]:
    """Every conversation/reasoning item of the shards, in build order, one shard at a time."""
    for shard in shards:
        if asks_llm(worker, shard):
            yield from shard_items(worker, shard)[1]
