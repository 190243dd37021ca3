"""The Hugging Face ``datasets`` builder of EmoVIT instruction data.

Configs: ``categorical``, ``conversation``, ``reasoning`` and ``all`` (the mixture). Source: an EmoSet-style
root given as ``data_dir``; splits follow its split files. Per-class sampling reproduces EmoVIT's protocol
(per class and split: conversation on the first ``conversation_per_class`` images, reasoning on the first
``reasoning_per_class``, categorical on the index range ``categorical_range``; counted in split-file order
by the class each entry states) or, with ``sampling="all"``, makes every kind for every image.

It works on its own, like any builder::

    builder = EmoVITInstructions(data_dir="emoset", config_name="categorical")
    builder = EmoVITInstructions(options=BuildConfig(emoset_root="emoset", config="categorical", sampling="all"))
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

The build's options are one record, :class:`~builder.dataset.config.BuildConfig`, validated when it is made:
the builder config carries it (``self.config.options``, as ``datasets``' packaged builders keep theirs in
``self.config``) and every stage reads it; ``data_dir`` and ``config_name`` alone give the default options.
Runtime plumbing is not part of the fingerprinted config: the caption/LLM-response cache location
(``emovit_cache_dir``, default ``$EMOVIT_CACHE`` or ``~/.cache/emovit``) and ``progress`` are builder
arguments. The builder's own cache key covers the config, not the files of the source tree: after editing
the tree, prepare with ``download_mode="force_redownload"`` (``emovit build`` always builds afresh).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import datasets

from builder.dataset.config import CONFIG_KINDS, BuildConfig
from builder.storage import default_cache_dir
from schemas.errors import UsageError
from schemas.features import instruction_features

#: Folder of the builder's cache directory holding shard tallies and quarantine lines.
LOG_DIR = "emovit"


@dataclass
class EmoVITBuilderConfig(datasets.BuilderConfig):
    """One of the predefined configs (its name: the instruction kinds it holds), carrying the build's options."""

    options: BuildConfig | None = None


def tree_labels(emotions: tuple[str, ...]) -> tuple[str, ...] | None:
    """The labels the categorical instruction must list for a tree with ``emotions``: None for EmoSet's eight
    (the protocol string, byte for byte), else the tree's own."""
    from schemas.vocab import EMOTIONS

    return None if sorted(emotions) == sorted(EMOTIONS) else tuple(emotions)


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

    def __init__(self, *args, options: BuildConfig | None = None, emovit_cache_dir: str | Path | None = None,
                 progress: bool = False, **kwargs):
        self.emovit_cache_dir = str(emovit_cache_dir or default_cache_dir())
        self.progress = progress
        self._worker = None
        if options is None and kwargs.get("data_dir"):  # data_dir and config_name alone: the default options
            options = BuildConfig(emoset_root=str(kwargs["data_dir"]),
                                  config=kwargs.get("config_name") or self.DEFAULT_CONFIG_NAME)
        if options is not None:
            kwargs.setdefault("config_name", options.config)
            kwargs.update(data_dir=options.data_dir, options=options)
        super().__init__(*args, **kwargs)
        if options is not None and options.config != self.config.name:
            raise ValueError(f"the options are for config {options.config!r}, the builder's is {self.config.name!r}")

    # ------------------------------------------------------------------ set-up
    @property
    def options(self) -> BuildConfig:
        """The build's options (:class:`~builder.dataset.config.BuildConfig`), as the builder config carries them."""
        if self.config.options is None:
            raise UsageError("data_dir (the EmoSet root) is required")
        return self.config.options

    def worker(self):
        """A :class:`~builder.dataset.shard.ShardWorker` of this build (one per process)."""
        from builder.dataset.shard import ShardWorker

        if self._worker is None:
            self._worker = ShardWorker(self.options, cache_dir=self.emovit_cache_dir, progress=self.progress,
                                       labels=tree_labels(self._vocab().emotions))
        return self._worker

    def check_setup(self) -> None:
        """Fail early, with one clear :class:`~schemas.errors.UsageError`, on a bad generator or captioner
        spec, a missing caption or curation file, or a missing API key (the options were checked when made)."""
        from builder.dataset.curation_file import CurationDecisions
        from builder.sources.emoset import EmoSetSource

        options = self.options
        source = EmoSetSource(options.data_dir, verify_images=False)
        unknown = [split for split in options.splits or () if split not in source.splits]
        if unknown:
            raise UsageError(f"{options.data_dir}: no split(s) {', '.join(unknown)} (have {', '.join(source.splits)})")
        if options.curation:
            CurationDecisions.load(options.curation, source.vocab.emotions)
        options.make_captioner(self.emovit_cache_dir)
        generator = options.make_generator(self.emovit_cache_dir)
        if options.makes_llm_kinds:
            generator.check_ready()

    def _vocab(self):
        from builder.sources.emoset import EmoSetSource

        if getattr(self, "_vocabulary", None) is None:
            self._vocabulary = EmoSetSource(self.options.data_dir, verify_images=False).vocab
        return self._vocabulary

    def _info(self) -> datasets.DatasetInfo:
        emotions = self._vocab().emotions if self.config.options is not None else None
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
        options = self.options
        source = EmoSetSource(options.data_dir, verify_images=options.verify_images, max_pixels=options.max_pixels)
        splits = tuple(options.splits or source.splits)
        log = self._log_dir(self._output_dir)  # preparation writes into a temporary output folder
        plans = plan_splits(source, splits, log / "plan", shard_size=options.shard_images,
                            class_positions=options.sampling == "emovit",
                            content=options.exclude_cross_split_duplicates)
        for split, plan in plans.items():
            (log / f"{split}.plan.json").write_text(json.dumps({"entries": plan.entries, "shards": len(plan.shards)}))
        self._prepare_generation([shard for split in splits for shard in plans[split].shards])
        return [datasets.SplitGenerator(name=split, gen_kwargs={"shards": plans[split].shards}) for split in splits]

    def _prepare_generation(self, shards: list) -> None:
        """A batch backend (one with ``prepare``, e.g. ``openai-batch:``) gets every LLM request of the build
        before the shards run, so they go out in a few large batches; the shards then read the answers."""
        from builder.dataset.requests import llm_items

        if not self.options.makes_llm_kinds or not hasattr(self.options.make_generator(self.emovit_cache_dir),
                                                           "prepare"):
            return
        self.worker().generator.prepare(llm_items(self.worker(), shards), progress=self.progress)

    def _generate_tables(self, shards: list) -> Iterator[tuple[object, object]]:
        from datasets.builder import Key

        from builder.dataset.shard import remove_plan
        from builder.sources.records import write_jsonl
        from schemas.jsonlines import write_lines

        log = self._log_dir(self._output_dir)
        for number, shard in enumerate(shards):
            result = self.worker().run(shard)
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
