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

from builder.dataset.plan import ShardRef, read_shard
from builder.sources.emoset import SplitEntry
from builder.sources.imagefiles import DEFAULT_MAX_PIXELS
from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.errors import UsageError
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


@dataclass(frozen=True)
class ShardSettings:
    """What a worker needs to know about the build (plain values: pickled into worker processes)."""

    data_dir: str
    verify_images: bool
    curation: str | None
    sampling: str
    conversation_per_class: int
    reasoning_per_class: int
    categorical_range: tuple[int, int]
    kinds: tuple[str, ...]
    captioner: str
    generator: str
    generation: dict
    embed_images: bool
    cache_dir: str | None
    progress: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    labels: tuple[str, ...] | None = None

    def kinds_for(self, index_in_class: int) -> tuple[str, ...]:
        """The kinds to make for the ``index_in_class``-th image of its class in a split (EmoVIT sampling),
        or every kind of the config with ``sampling="all"``."""
        if self.sampling == "all":
            return self.kinds
        if index_in_class < 0:
            return ()
        start, stop = self.categorical_range
        wanted = {
            "categorical": start <= index_in_class < stop,
            "conversation": index_in_class < self.conversation_per_class,
            "reasoning": index_in_class < self.reasoning_per_class,
        }
        return tuple(kind for kind in self.kinds if wanted[kind])

    def make_captioner(self):
        """The captioner of the build (a :class:`~schemas.errors.UsageError` for a bad spec)."""
        from builder.captions import get_captioner

        return get_captioner(self.captioner, cache_dir=self.cache_dir)

    def make_generator(self):
        """The instruction generator of the build (a :class:`~schemas.errors.UsageError` for a bad spec)."""
        from builder.generation.config import GenerationConfig
        from builder.generation.registry import get_generator

        try:
            config = GenerationConfig.from_dict({**self.generation, "cache_dir": self.cache_dir})
        except ValueError as exc:
            raise UsageError(f"generation options: {exc}") from None
        return get_generator(self.generator, config)

    @property
    def makes_llm_kinds(self) -> bool:
        """Whether any conversation or reasoning sample can be asked for."""
        wanted = {"conversation": self.conversation_per_class, "reasoning": self.reasoning_per_class}
        return any(kind in wanted and (self.sampling == "all" or wanted[kind] > 0) for kind in self.kinds)


class ShardWorker:
    """Runs shards of one build (one instance per process)."""

    def __init__(self, settings: ShardSettings):
        from builder.dataset.curation_file import CurationDecisions
        from builder.dataset.instruction_checks import InstructionChecker
        from builder.sources.emoset import EmoSetSource
        from schemas.features import instruction_features

        self.settings = settings
        self.source = EmoSetSource(settings.data_dir, verify_images=settings.verify_images,
                                   max_pixels=settings.max_pixels)
        emotions = self.source.vocab.emotions
        self.curation = CurationDecisions.load(settings.curation, emotions) if settings.curation else None
        self.captioner = settings.make_captioner()
        self.generator = settings.make_generator()
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
                kinds = self.settings.kinds_for(class_index[position])
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
        progress = self.settings.progress
        captioned = self.captioner.captions(records, progress=progress)
        requests = [GenerationItem(record, captioned.captions[record.id], kind)
                    for record, kinds in selection.records if record.id in captioned.captions for kind in kinds]
        outcome = self.generator.generate(requests, progress=progress)
        order = {record.id: position for position, record in enumerate(records)}
        generated = sorted(outcome.records, key=lambda r: (order[r.image_id], KINDS.index(r.kind), r.id))
        if self.settings.labels is not None:
            generated = [with_labels(r, self.settings.labels) if r.kind == "categorical" else r for r in generated]
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
            if self.settings.embed_images:
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
