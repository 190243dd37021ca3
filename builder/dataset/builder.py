"""The Hugging Face ``datasets`` builder of EmoVIT instruction data.

Configs: ``categorical``, ``conversation``, ``reasoning`` and ``all`` (the mixture). Source: an EmoSet-style
root given as ``data_dir``; splits follow its split files. Per-class sampling reproduces EmoVIT's protocol
(per class and split: conversation on the first ``conversation_per_class`` images, reasoning on the first
``reasoning_per_class``, categorical on the index range ``categorical_range``; counted in split-file order
by the class each entry states) or, with ``sampling="all"``, makes every kind for every image.

It works on its own, like any builder::

    builder = EmoVITInstructions(data_dir="emoset", config_name="categorical")
    builder.download_and_prepare(num_proc=2)
    dataset = builder.as_dataset()
    builder.tallies()            # per split: entries, kept, quarantined, curated, not selected, LLM usage
    builder.quarantine("train")  # every rejected input of a split, with its reason

How it streams: ``_split_generators`` reads the split lists once (:mod:`builder.dataset.plan`) and cuts them into
shards whose plan files hold entry references; ``_generate_tables`` hands each shard to a
:class:`~builder.dataset.shard.ShardWorker`, which reads its own entries and yields one Arrow table, so memory is
flat in the number of entries and ``num_proc`` spreads shards over processes. Each shard leaves its tally
and quarantine lines in the builder's cache directory (``<cache_dir>/emovit/``), moved there with the data
when preparation succeeds.

Runtime plumbing is not part of the fingerprinted config: the caption/LLM-response cache location
(``emovit_cache_dir``, default ``$EMOVIT_CACHE`` or ``~/.cache/emovit``) and ``progress`` are builder
arguments. The builder's own cache key covers the config, not the files of the source tree: after editing
the tree, prepare with ``download_mode="force_redownload"`` (``emovit build`` always builds afresh).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import datasets

from builder.dataset.shard import ShardSettings
from builder.sources.imagefiles import DEFAULT_MAX_PIXELS, check_max_pixels
from builder.storage import default_cache_dir
from schemas.errors import UsageError
from schemas.features import instruction_features
from schemas.protocol import KINDS

#: Config name -> instruction kinds it holds.
CONFIG_KINDS: dict[str, tuple[str, ...]] = {
    "categorical": ("categorical",),
    "conversation": ("conversation",),
    "reasoning": ("reasoning",),
    "all": KINDS,
}
#: EmoVIT's per-class protocol (see the README): conversation 1,000, reasoning 100, categorical 4,600.
EMOVIT_SAMPLING = {"conversation_per_class": 1000, "reasoning_per_class": 100, "categorical_range": (0, 4600)}
SAMPLING_MODES = ("emovit", "all")
#: Folder of the builder's cache directory holding shard tallies and quarantine lines.
LOG_DIR = "emovit"


@dataclass
class EmoVITBuilderConfig(datasets.BuilderConfig):
    """Options that determine the data of one build (validated on construction)."""

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
    shard_images: int = 2500
    max_pixels: int = DEFAULT_MAX_PIXELS
    exclude_cross_split_duplicates: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option. (``datasets`` sets keyword options on a copy of a
        predefined config without running ``__post_init__`` again, so the builder calls this too.)"""
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
        check_max_pixels(self.max_pixels)
        if self.splits is not None:
            repeated = sorted({split for split in self.splits if list(self.splits).count(split) > 1})
            if repeated or not self.splits:
                raise ValueError(f"splits must name each split once, got {', '.join(self.splits) or 'none'}")
        if "cache_dir" in self.generation:
            raise ValueError("generation options must not set cache_dir: pass emovit_cache_dir to the builder")

    @property
    def kinds(self) -> tuple[str, ...]:
        return CONFIG_KINDS[self.name]


def tree_labels(emotions: tuple[str, ...]) -> tuple[str, ...] | None:
    """The labels the categorical instruction must list for a tree with ``emotions``: None for EmoSet's eight
    (the protocol string, byte for byte), else the tree's own."""
    from schemas.vocab import EMOTIONS

    return None if sorted(emotions) == sorted(EMOTIONS) else tuple(emotions)


def shard_settings(config: EmoVITBuilderConfig, cache_dir: str | Path | None, *, progress: bool = False,
                   emotions: tuple[str, ...] | None = None) -> ShardSettings:
    """The plain values a shard worker needs for ``config`` (caches under ``cache_dir``; ``emotions``: the
    tree's labels, when known)."""
    if not config.data_dir:
        raise UsageError("data_dir (the EmoSet root) is required")
    return ShardSettings(
        data_dir=str(config.data_dir), verify_images=config.verify_images, curation=config.curation,
        sampling=config.sampling, conversation_per_class=config.conversation_per_class,
        reasoning_per_class=config.reasoning_per_class, categorical_range=tuple(config.categorical_range),
        kinds=config.kinds, captioner=config.captioner, generator=config.generator,
        generation=dict(config.generation), embed_images=config.embed_images,
        cache_dir=str(cache_dir or default_cache_dir()), progress=progress, max_pixels=config.max_pixels,
        labels=tree_labels(emotions) if emotions else None,
    )


class EmoVITInstructions(datasets.ArrowBasedBuilder):
    """EmoVIT emotion visual-instruction data built from an EmoSet-style tree.

    Args (besides the ``datasets`` builder's):
        emovit_cache_dir: caption and LLM-response caches (default :func:`default_cache_dir`).
        progress: show caption/generation progress bars per shard.
    """

    BUILDER_CONFIG_CLASS = EmoVITBuilderConfig
    BUILDER_CONFIGS = [EmoVITBuilderConfig(name=name, description=f"EmoVIT {name} instructions")
                       for name in CONFIG_KINDS]
    DEFAULT_CONFIG_NAME = "all"
    DEFAULT_WRITER_BATCH_SIZE = 1000

    def __init__(self, *args, emovit_cache_dir: str | Path | None = None, progress: bool = False, **kwargs):
        self.emovit_cache_dir = str(emovit_cache_dir or default_cache_dir())
        self.progress = progress
        self._worker = None
        super().__init__(*args, **kwargs)
        self.config.validate()

    # ------------------------------------------------------------------ set-up
    def settings(self) -> ShardSettings:
        """What the shard workers need (plain values)."""
        return shard_settings(self.config, self.emovit_cache_dir, progress=self.progress,
                              emotions=self._vocab().emotions if self.config.data_dir else None)

    def check_setup(self) -> None:
        """Fail early, with one clear :class:`~schemas.errors.UsageError`, on a bad generator or captioner
        spec, bad generation options, a missing caption or curation file, or a missing API key."""
        from builder.dataset.curation_file import CurationDecisions
        from builder.sources.emoset import EmoSetSource

        settings = self.settings()
        source = EmoSetSource(settings.data_dir, verify_images=False)
        unknown = [split for split in self.config.splits or () if split not in source.splits]
        if unknown:
            raise UsageError(f"{settings.data_dir}: no split(s) {', '.join(unknown)} (have {', '.join(source.splits)})")
        if settings.curation:
            CurationDecisions.load(settings.curation, source.vocab.emotions)
        settings.make_captioner()
        generator = settings.make_generator()
        if settings.makes_llm_kinds:
            generator.check_ready()

    def _vocab(self):
        from builder.sources.emoset import EmoSetSource

        if getattr(self, "_vocabulary", None) is None:
            self._vocabulary = EmoSetSource(self.config.data_dir, verify_images=False).vocab
        return self._vocabulary

    def _info(self) -> datasets.DatasetInfo:
        emotions = self._vocab().emotions if self.config.data_dir else None
        return datasets.DatasetInfo(
            description="Emotion visual-instruction data (EmoVIT) in LLaVA conversation format.",
            features=instruction_features(emotions) if emotions else instruction_features(),
            license="EmoSet images: research-only licence of the source; instructions: CC BY 4.0",
        )

    # ------------------------------------------------------------------ generation
    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        from builder.dataset.plan import plan_splits
        from builder.sources.emoset import EmoSetSource

        self.check_setup()
        config = self.config
        source = EmoSetSource(config.data_dir, verify_images=config.verify_images, max_pixels=config.max_pixels)
        splits = tuple(config.splits or source.splits)
        log = self._log_dir(self._output_dir)  # preparation writes into a temporary output folder
        plans = plan_splits(source, splits, log / "plan", shard_size=config.shard_images,
                            class_positions=config.sampling == "emovit",
                            content=config.exclude_cross_split_duplicates)
        for split, plan in plans.items():
            (log / f"{split}.plan.json").write_text(json.dumps({"entries": plan.entries, "shards": len(plan.shards)}))
        self._prepare_generation([shard for split in splits for shard in plans[split].shards])
        return [datasets.SplitGenerator(name=split, gen_kwargs={"shards": plans[split].shards}) for split in splits]

    def _prepare_generation(self, shards: list) -> None:
        """A batch backend (one with ``prepare``, e.g. ``openai-batch:``) gets every LLM request of the build
        before the shards run, so they go out in a few large batches; the shards then read the answers."""
        from builder.dataset.requests import llm_items
        from builder.dataset.shard import ShardWorker

        settings = self.settings()
        if not settings.makes_llm_kinds or not hasattr(settings.make_generator(), "prepare"):
            return
        if self._worker is None:
            self._worker = ShardWorker(settings)
        self._worker.generator.prepare(llm_items(self._worker, shards), progress=self.progress)

    def _generate_tables(self, shards: list) -> Iterator[tuple[object, object]]:
        from datasets.builder import Key

        from builder.dataset.shard import ShardWorker, remove_plan
        from builder.sources.records import write_jsonl
        from schemas.jsonlines import write_lines

        if self._worker is None:
            self._worker = ShardWorker(self.settings())
        log = self._log_dir(self._output_dir)
        for number, shard in enumerate(shards):
            result = self._worker.run(shard)
            name = f"{shard.split}.shard-{shard.index:05d}"
            write_jsonl(log / f"{name}.quarantine.jsonl", result.quarantine)
            write_lines(log / f"{name}.hashes.jsonl", result.hashes)
            write_lines(log / f"{name}.curation.jsonl", result.curation_seen)
            (log / f"{name}.json").write_text(json.dumps(asdict(result.tally)))
            remove_plan(shard)
            if result.table.num_rows:
                yield Key(number, 0), result.table

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_worker"] = None  # each process builds its own
        return state

    # ------------------------------------------------------------------ accounting
    @staticmethod
    def _log_dir(output_dir) -> Path:
        path = Path(output_dir) / LOG_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def tallies(self) -> dict[str, dict]:
        """Per split, after :meth:`download_and_prepare`: the shard tallies summed, LLM usage included."""
        from builder.generation.base import GenerationUsage

        log = Path(self.cache_dir) / LOG_DIR
        result = {}
        for plan_file in sorted(log.glob("*.plan.json")):
            split = plan_file.name[: -len(".plan.json")]
            totals: dict = {"entries_planned": json.loads(plan_file.read_text())["entries"]}
            usage = GenerationUsage()
            for path in sorted(log.glob(f"{split}.shard-*[0-9].json")):
                tally = json.loads(path.read_text())
                usage.add(GenerationUsage(**tally.pop("usage")) if tally.get("usage") else GenerationUsage())
                tally.pop("usage", None)
                for key, value in tally.items():
                    totals[key] = totals.get(key, 0) + value
            totals["usage"] = asdict(usage)
            result[split] = totals
        return result

    def _log_lines(self, split: str, suffix: str) -> Iterator:
        from schemas.jsonlines import parse_lines, read_text

        for path in sorted((Path(self.cache_dir) / LOG_DIR).glob(f"{split}.shard-*.{suffix}")):
            yield from (value for _, value in parse_lines(read_text(path)))

    def quarantine(self, split: str) -> Iterator[dict]:
        """Every quarantine line of ``split``, shard by shard, in entry order within each shard."""
        yield from self._log_lines(split, "quarantine.jsonl")

    def image_hashes(self, split: str) -> Iterator[tuple[int, str, str]]:
        """``(position, id, sha256)`` of every image of ``split`` in the dataset (when images were verified)."""
        yield from (tuple(line) for line in self._log_lines(split, "hashes.jsonl"))

    def curation_seen(self, split: str) -> Iterator[str]:
        """Ids of ``split``'s entries that the curation decisions name."""
        yield from self._log_lines(split, "curation.jsonl")
