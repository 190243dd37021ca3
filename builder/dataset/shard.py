"""One shard of a build, start to finish: plan entries -> source checks -> curation -> sampling -> captions
-> instructions -> schema check -> an Arrow table of rows.

:class:`ShardWorker` holds what a worker process needs (the source, the curation decisions, the captioner,
the generator, the instruction checker, the Arrow schema), made once per process and reused for every shard
it is handed. Every entry of a shard ends in exactly one place, counted in :class:`ShardTally`: the
dataset, the quarantine (with a reason), the curated exclusions, or "not selected" by the sampling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from builder.dataset.config import BuildConfig
from builder.dataset.plan import ShardRef, read_shard
from builder.sources.emoset import SplitEntry
from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.protocol import KINDS


@dataclass
class ShardTally:
    """Where the entries of a shard went. ``images_quarantined`` counts selected images that produced no
    accepted sample (caption, generation or schema failures); source rejections are ``source_quarantined``."""

    entries: int = 0
    source_quarantined: int = 0
    curated: int = 0
    relabelled: int = 0
    not_selected: int = 0
    selected: int = 0
    images_kept: int = 0
    images_quarantined: int = 0
    usage: dict = field(default_factory=dict)


@dataclass
class Selection:
    """The records a shard will generate for (with the kinds each gets) and what it set aside so far.

    ``curation_seen``: the ids of the shard's entries that the curation decisions name (whatever became of
    the entry), so the build can count the decisions that name no image of the tree."""

    records: list[tuple[SourceRecord, tuple[str, ...]]]
    quarantined: list[QuarantineEntry]
    tally: ShardTally
    curation_seen: list[str] = field(default_factory=list)
    #: The split-list position of each selected record (parallel to ``records``).
    positions: list[int] = field(default_factory=list)


@dataclass
class ShardResult:
    """What one shard produced: its rows, its tally, its quarantine lines, the ``[position, id, sha256]`` of
    each image in the dataset (when images were verified) and the curation ids it saw."""

    table: object
    tally: ShardTally
    quarantine: list[QuarantineEntry]
    hashes: list[list]
    curation_seen: list[str]


class ShardWorker:
    """Runs shards of one build (one instance per process).

    Args:
        options: the build's options (:class:`~builder.dataset.config.BuildConfig`).
        cache_dir: where the caption and LLM-response caches live (default :func:`default_cache_dir`).
        progress: show caption/generation progress bars.
        labels: the tree's labels when they are not EmoSet's eight (the categorical instruction lists them).
    """

    def __init__(self, options: BuildConfig, *, cache_dir: str | Path | None = None, progress: bool = False,
                 labels: tuple[str, ...] | None = None):
        from builder.dataset.curation_file import CurationDecisions
        from builder.dataset.instruction_checks import InstructionChecker
        from builder.sources.emoset import EmoSetSource
        from builder.storage import default_cache_dir
        from schemas.features import instruction_features

        self.options = options
        self.cache_dir = str(cache_dir or default_cache_dir())
        self.progress = progress
        self.labels = labels
        self.source = EmoSetSource(options.data_dir, verify_images=options.verify_images,
                                   max_pixels=options.max_pixels)
        emotions = self.source.vocab.emotions
        self.curation = CurationDecisions.load(options.curation, emotions) if options.curation else None
        self.captioner = options.make_captioner(self.cache_dir)
        self.generator = options.make_generator(self.cache_dir)
        self.checker = InstructionChecker(self.source.vocab)
        self.schema = instruction_features(emotions).arrow_schema
        self.label = {emotion: index for index, emotion in enumerate(emotions)}

    def select(self, shard: ShardRef) -> Selection:
        """Source checks, curation and sampling for every entry of ``shard``."""
        entries = read_shard(shard)
        tally = ShardTally(entries=len(entries))
        class_index = {entry.position: index for entry, index, _ in entries if isinstance(entry, SplitEntry)}
        quarantined: list[QuarantineEntry] = []
        selected: list[tuple[SourceRecord, tuple[str, ...]]] = []
        positions: list[int] = []
        pairs = ((entry, duplicate) for entry, _, duplicate in entries)
        seen = [entry.id for entry, _, _ in entries if isinstance(entry, SplitEntry) and self.curation
                and self.curation.names(entry.id)]
        for batch in self.source.check(shard.split, pairs):
            quarantined.extend(batch.quarantined)
            tally.source_quarantined += len(batch.quarantined)
            for record, position in zip(batch.records, batch.positions):
                curated = self.curation.apply(record) if self.curation else record
                if isinstance(curated, QuarantineEntry):
                    quarantined.append(curated)
                    tally.curated += 1
                    continue
                tally.relabelled += curated.emotion != record.emotion
                kinds = self.options.kinds_for(class_index[position])
                if kinds:
                    selected.append((curated, kinds))
                    positions.append(position)
                else:
                    tally.not_selected += 1
        tally.selected = len(selected)
        return Selection(selected, quarantined, tally, seen, positions)

    def run(self, shard: ShardRef) -> ShardResult:
        """Everything one shard produces; the table holds its accepted rows in order."""
        from dataclasses import asdict

        from builder.generation.base import GenerationItem

        selection = self.select(shard)
        records = [record for record, _ in selection.records]
        progress = self.progress
        captioned = self.captioner.captions(records, progress=progress)
        requests = [GenerationItem(record, captioned.captions[record.id], kind)
                    for record, kinds in selection.records if record.id in captioned.captions for kind in kinds]
        outcome = self.generator.generate(requests, progress=progress)
        order = {record.id: position for position, record in enumerate(records)}
        generated = sorted(outcome.records, key=lambda r: (order[r.image_id], KINDS.index(r.kind), r.id))
        if self.labels is not None:
            generated = [with_labels(r, self.labels) if r.kind == "categorical" else r for r in generated]
        accepted, rejected = self.checker.check(generated)
        tally = selection.tally
        kept = {r.image_id for r in accepted}
        tally.images_kept = len(kept)
        tally.images_quarantined = len(records) - tally.images_kept
        tally.usage = asdict(outcome.usage)
        quarantine = [*selection.quarantined, *captioned.missing, *outcome.quarantined, *rejected]
        positions = {record.id: position for (record, _), position in zip(selection.records, selection.positions)}
        hashes = [[positions[r.id], r.id, r.sha256] for r in records if r.id in kept and r.sha256]
        return ShardResult(self.table(accepted), tally, quarantine, hashes, selection.curation_seen)

    def table(self, records):
        """The Arrow table of accepted instruction records (the build's features, images by path or bytes)."""
        import pyarrow as pa

        rows = []
        for record in records:
            row = record.to_row()
            row["emotion"] = self.label[record.emotion]
            if self.options.embed_images:
                with open(record.image_path, "rb") as handle:
                    row["image"] = {"bytes": handle.read(), "path": os.path.basename(record.image_path)}
            else:
                row["image"] = {"bytes": None, "path": record.image_path}
            rows.append(row)
        return pa.Table.from_pylist(rows, schema=self.schema)


def with_labels(record, labels: tuple[str, ...]):
    """A categorical instruction record asking for ``labels`` (a tree's own, from its ``info.json``) instead of
    EmoSet's eight: the same protocol sentence listing them (:func:`schemas.protocol.categorical_instruction`),
    with that sentence's hash as the prompt version."""
    import dataclasses

    from builder.generation.samples import content_hash
    from schemas.protocol import categorical_instruction, with_image_token

    instruction = categorical_instruction(labels)
    conversation = ({"from": "human", "value": with_image_token(instruction)}, *record.conversations[1:])
    info = dataclasses.replace(record.generator, prompt_version=content_hash(instruction))
    return dataclasses.replace(record, conversations=conversation, generator=info)


def remove_plan(shard: ShardRef) -> None:
    """Delete a shard's plan file once its rows are written."""
    Path(shard.path).unlink(missing_ok=True)
