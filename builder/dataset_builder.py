"""The Hugging Face ``datasets`` builder of EmoVIT instruction data.

Configs: ``categorical``, ``conversation``, ``reasoning`` and ``all`` (the mixture). Source: an EmoSet-style
root given as ``data_dir``; splits follow its split files. Per-class sampling reproduces EmoVIT's protocol
(per class and split: conversation on the first ``conversation_per_class`` images, reasoning on the first
``reasoning_per_class``, categorical on the index range ``categorical_range``; counted in split-file order)
or, with ``sampling="all"``, makes every kind for every image.

Generation runs inside ``_generate_examples`` shard by shard (``shards`` is a list-valued gen_kwarg, so
``num_proc`` spreads shards over processes). Each shard writes a side file (quarantine, usage, image
tallies) into ``side_dir``; :mod:`builder.build` merges them into ``report.json`` and ``quarantine.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets

from schemas.features import instruction_features
from schemas.protocol import KINDS
from builder.records import QuarantineEntry, SourceRecord

#: Config name -> instruction kinds it holds.
CONFIG_KINDS: dict[str, tuple[str, ...]] = {
    "categorical": ("categorical",),
    "conversation": ("conversation",),
    "reasoning": ("reasoning",),
    "all": KINDS,
}
#: EmoVIT's per-class protocol (see shared facts): conversation 1,000, reasoning 100, categorical 4,600.
EMOVIT_SAMPLING = {"conversation_per_class": 1000, "reasoning_per_class": 100, "categorical_range": (0, 4600)}
SAMPLING_MODES = ("emovit", "all")


@dataclass
class EmoVITBuilderConfig(datasets.BuilderConfig):
    """Options of one build. Validated on construction; every field is saved in the build's report."""

    sampling: str = "emovit"
    conversation_per_class: int = EMOVIT_SAMPLING["conversation_per_class"]
    reasoning_per_class: int = EMOVIT_SAMPLING["reasoning_per_class"]
    categorical_range: tuple[int, int] = EMOVIT_SAMPLING["categorical_range"]
    generator: str = "template"
    captioner: str = "attributes"
    generation: dict = field(default_factory=dict)
    embed_images: bool = False
    splits: tuple[str, ...] | None = None
    curation: str | None = None
    verify_images: bool = True
    cache_root: str | None = None
    side_dir: str | None = None
    shard_images: int = 1000
    progress: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.name not in CONFIG_KINDS:
            raise ValueError(f"config name must be one of {', '.join(CONFIG_KINDS)}, got {self.name!r}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {self.sampling!r}")
        start, stop = self.categorical_range
        if not 0 <= start <= stop:
            raise ValueError(f"categorical_range must satisfy 0 <= start <= stop, got {self.categorical_range}")
        if self.conversation_per_class < 0 or self.reasoning_per_class < 0:
            raise ValueError("conversation_per_class and reasoning_per_class must be >= 0")
        if self.shard_images < 1:
            raise ValueError(f"shard_images must be >= 1, got {self.shard_images}")

    @property
    def kinds(self) -> tuple[str, ...]:
        return CONFIG_KINDS[self.name]

    def kinds_for(self, index_in_class: int) -> tuple[str, ...]:
        """The kinds to make for the ``index_in_class``-th image of its class in a split."""
        if self.sampling == "all":
            return self.kinds
        start, stop = self.categorical_range
        wanted = {
            "categorical": start <= index_in_class < stop,
            "conversation": index_in_class < self.conversation_per_class,
            "reasoning": index_in_class < self.reasoning_per_class,
        }
        return tuple(kind for kind in self.kinds if wanted[kind])


def side_file(side_dir: str | Path, split: str, name: str) -> Path:
    """Path of a side output of ``split`` (``plan``, ``source`` or ``shard-<n>``)."""
    return Path(side_dir) / f"{split}.{name}.json"


class EmoVITInstructions(datasets.GeneratorBasedBuilder):
    """EmoVIT emotion visual-instruction data built from an EmoSet-style tree."""

    BUILDER_CONFIG_CLASS = EmoVITBuilderConfig
    BUILDER_CONFIGS = [EmoVITBuilderConfig(name=name, description=f"EmoVIT {name} instructions")
                       for name in CONFIG_KINDS]
    DEFAULT_CONFIG_NAME = "all"
    DEFAULT_WRITER_BATCH_SIZE = 1000

    def _vocab(self):
        from builder.source import EmoSetSource

        return EmoSetSource(self.config.data_dir, verify_images=False).vocab

    def _info(self) -> datasets.DatasetInfo:
        emotions = self._vocab().emotions if self.config.data_dir else None
        return datasets.DatasetInfo(
            description="Emotion visual-instruction data (EmoVIT) in LLaVA conversation format.",
            features=instruction_features(emotions) if emotions else instruction_features(),
            license="EmoSet images: research-only licence of the source; instructions: CC BY 4.0",
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        from builder.curation_file import CurationDecisions
        from builder.records import write_jsonl
        from builder.source import EmoSetSource

        config = self.config
        if not config.data_dir:
            raise ValueError("data_dir (the EmoSet root) is required")
        if not config.side_dir:
            raise ValueError("side_dir is required")
        Path(config.side_dir).mkdir(parents=True, exist_ok=True)
        source = EmoSetSource(config.data_dir, verify_images=config.verify_images)
        curation = CurationDecisions.load(config.curation, source.vocab.emotions) if config.curation else None
        generators = []
        for split in config.splits or source.splits:
            selected: list[tuple[SourceRecord, tuple[str, ...]]] = []
            per_class: Counter = Counter()
            quarantined: list[QuarantineEntry] = []
            entries = 0
            for batch in source.read(split):
                entries += len(batch.records) + len(batch.quarantined)
                quarantined.extend(batch.quarantined)
                for record in batch.records:
                    curated = curation.apply(record) if curation else record
                    if isinstance(curated, QuarantineEntry):
                        quarantined.append(curated)
                        continue
                    kinds = config.kinds_for(per_class[curated.emotion])
                    per_class[curated.emotion] += 1
                    if kinds:
                        selected.append((curated, kinds))
            write_jsonl(side_file(config.side_dir, split, "source"), quarantined)
            plan = {"entries": entries, "source_quarantined": len(quarantined), "selected": len(selected),
                    "not_selected": entries - len(quarantined) - len(selected)}
            side_file(config.side_dir, split, "plan").write_text(json.dumps(plan))
            size = config.shard_images
            shards = [(index, selected[start:start + size])
                      for index, start in enumerate(range(0, len(selected), size))]
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "shards": shards}))
        return generators

    def _generate_examples(self, split: str, shards: list):
        from builder.captions import get_captioner
        from builder.generation.base import GenerationItem
        from builder.instruction_checks import InstructionChecker

        config = self.config
        captioner = get_captioner(config.captioner, cache_dir=config.cache_root)
        checker = InstructionChecker(self._vocab())
        generator = self._generator()
        for shard_index, items in shards:
            records = [record for record, _ in items]
            captioned = captioner.captions(records, progress=config.progress)
            requests = [GenerationItem(record, captioned.captions[record.id], kind)
                        for record, kinds in items if record.id in captioned.captions for kind in kinds]
            # every generator makes categorical samples itself, without a request
            outcome = generator.generate(requests, progress=config.progress)
            generated = outcome.records
            quarantined = [*captioned.missing, *outcome.quarantined]
            usage = outcome.usage
            order = {record.id: position for position, record in enumerate(records)}
            generated.sort(key=lambda r: (order[r.image_id], KINDS.index(r.kind), r.id))
            accepted, rejected = checker.check(generated)
            quarantined.extend(rejected)
            kept_images = {r.image_id for r in accepted}
            side = {
                "images": len(records),
                "images_kept": len(kept_images),
                "images_quarantined": len(records) - len(kept_images),
                "quarantine": [asdict(entry) for entry in quarantined],
                "usage": asdict(usage),
            }
            side_file(config.side_dir, split, f"shard-{shard_index:05d}").write_text(
                json.dumps(side, default=str))
            for record in accepted:
                yield record.id, self._row(record)

    def _generator(self):
        from builder.generation.registry import GenerationConfig, get_generator

        options = dict(self.config.generation)
        options.setdefault("cache_dir", self.config.cache_root)
        return get_generator(self.config.generator, GenerationConfig(**options))

    def _row(self, record) -> dict:
        row = record.to_row()
        if self.config.embed_images:
            with open(record.image_path, "rb") as handle:
                row["image"] = {"bytes": handle.read(), "path": os.path.basename(record.image_path)}
        return row
