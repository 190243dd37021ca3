"""What determines a build: :class:`BuildConfig`, the one record of a build's options (saved as
``build_config.json`` beside the dataset), and the prices its generator bills at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from builder.sources.imagefiles import DEFAULT_MAX_PIXELS, check_max_pixels
from schemas.errors import UsageError
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


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build: the one record of its options, validated here once, carried by the
    ``datasets`` builder config (:class:`builder.dataset.builder.EmoVITBuilderConfig`) and read by every stage
    (the shard workers, the dry run, ``emovit caption``); saved as ``build_config.json`` beside the dataset.

    ``config`` names the instruction kinds (:data:`CONFIG_KINDS`). ``generation`` holds the options of the
    generator (:class:`~builder.generation.config.GenerationConfig`; ``split_turns`` and ``seed`` are taken from
    this record unless it sets them). ``source_name`` is how published files (the dataset card) name the source;
    default: the root folder's name, never its local path. ``max_failure_rate``: share of
    conversation/reasoning generations allowed to fail before the build counts as failed (the report is still
    written). Where the caches live and whether progress shows are not options of the build: they change no
    output and are given to the builder and the stages beside this record.
    """

    emoset_root: str
    config: str = "all"
    generator: str = "template"
    captioner: str = "attributes"
    splits: tuple[str, ...] | None = None
    sampling: str = "emovit"
    conversation_per_class: int = EMOVIT_SAMPLING["conversation_per_class"]
    reasoning_per_class: int = EMOVIT_SAMPLING["reasoning_per_class"]
    categorical_range: tuple[int, int] = EMOVIT_SAMPLING["categorical_range"]
    split_turns: bool = True
    embed_images: bool = False
    curation: str | None = None
    verify_images: bool = True
    generation: dict = field(default_factory=dict)
    seed: int = 42
    shard_images: int = 2500
    source_name: str | None = None
    max_failure_rate: float = 0.05
    max_pixels: int = DEFAULT_MAX_PIXELS
    exclude_cross_split_duplicates: bool = False

    def __post_init__(self) -> None:
        if "\x00" in self.emoset_root:
            raise UsageError(f"--emoset-root {self.emoset_root!r}: a path cannot hold a NUL character")
        if not self.source_name:
            object.__setattr__(self, "source_name", Path(self.emoset_root).resolve().name)
        if not 0.0 <= self.max_failure_rate <= 1.0:  # also refuses NaN
            raise UsageError(f"max_failure_rate must be between 0 and 1, got {self.max_failure_rate}")
        try:
            check_max_pixels(self.max_pixels)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.splits is not None:
            repeated = sorted({split for split in self.splits if self.splits.count(split) > 1})
            if repeated:
                raise UsageError(f"--splits names {', '.join(repeated)} more than once")
            if not self.splits:
                raise UsageError("splits must name each split once, got none")
        if self.config not in CONFIG_KINDS:
            raise UsageError(f"config name must be one of {', '.join(CONFIG_KINDS)}, got {self.config!r}")
        if self.sampling not in SAMPLING_MODES:
            raise UsageError(f"sampling must be one of {', '.join(SAMPLING_MODES)}, got {self.sampling!r}")
        start, stop = self.categorical_range
        if not 0 <= start <= stop:
            raise UsageError(f"categorical_range must satisfy 0 <= start <= stop, got {tuple(self.categorical_range)}")
        if self.conversation_per_class < 0 or self.reasoning_per_class < 0:
            raise UsageError("conversation_per_class and reasoning_per_class must be >= 0")
        if self.shard_images < 1:
            raise UsageError(f"shard_images must be >= 1, got {self.shard_images}")
        if "cache_dir" in self.generation:
            raise UsageError("generation options must not set cache_dir: pass emovit_cache_dir to the builder")
        self.generation_config(None)  # the generator's options are checked here too, before any work

    @property
    def data_dir(self) -> str:
        """The EmoSet root as an absolute path (what the stages read)."""
        return str(Path(self.emoset_root).resolve())

    @property
    def kinds(self) -> tuple[str, ...]:
        """The instruction kinds of the config."""
        return CONFIG_KINDS[self.config]

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

    @property
    def makes_llm_kinds(self) -> bool:
        """Whether any conversation or reasoning sample can be asked for."""
        wanted = {"conversation": self.conversation_per_class, "reasoning": self.reasoning_per_class}
        return any(kind in wanted and (self.sampling == "all" or wanted[kind] > 0) for kind in self.kinds)

    def generation_config(self, cache_dir: str | None):
        """The generator's options, its response cache under ``cache_dir``."""
        from builder.generation.config import GenerationConfig

        try:
            return GenerationConfig.from_dict({"split_turns": self.split_turns, "seed": self.seed, **self.generation,
                                               "cache_dir": cache_dir})
        except ValueError as exc:
            raise UsageError(f"generation options: {exc}") from None

    def make_captioner(self, cache_dir: str | None):
        """The captioner of the build, its cache under ``cache_dir`` (a :class:`UsageError` for a bad spec)."""
        from builder.captions import get_captioner

        return get_captioner(self.captioner, cache_dir=cache_dir)

    def make_generator(self, cache_dir: str | None):
        """The instruction generator of the build, its caches under ``cache_dir`` (a :class:`UsageError` for a
        bad spec)."""
        from builder.generation.registry import get_generator

        return get_generator(self.generator, self.generation_config(cache_dir))


def generator_prices(config: BuildConfig) -> dict | None:
    """The prices an OpenAI-compatible generator bills at (the Batch API's for ``openai-batch:``), and where
    they came from (None otherwise)."""
    name, _, model = config.generator.partition(":")
    if name not in ("openai", "openai-batch"):
        return None
    from builder.generation.pricing import resolve_prices

    prices = resolve_prices(model.strip(), config.generation.get("price_per_million_input"),
                            config.generation.get("price_per_million_output"), batch=name == "openai-batch")
    return asdict(prices) | {"unit": "USD per 1M tokens"}
