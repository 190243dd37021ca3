"""What determines a build: :class:`BuildConfig` (saved as ``build_config.json`` beside the dataset) and the
prices its generator bills at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from builder.sources.imagefiles import DEFAULT_MAX_PIXELS, check_max_pixels
from schemas.errors import UsageError


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build (saved as ``build_config.json`` beside the dataset).

    ``source_name`` is how published files (the dataset card) name the source; default: the root folder's
    name, never its local path. ``max_failure_rate``: share of conversation/reasoning generations allowed
    to fail before the build counts as failed (the report is still written).
    """

    emoset_root: str
    config: str = "all"
    generator: str = "template"
    captioner: str = "attributes"
    splits: tuple[str, ...] | None = None
    sampling: str = "emovit"
    conversation_per_class: int = 1000
    reasoning_per_class: int = 100
    categorical_range: tuple[int, int] = (0, 4600)
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

    def builder_kwargs(self) -> dict:
        """Keyword arguments of :class:`builder.dataset.builder.EmoVITBuilderConfig`."""
        generation = {"split_turns": self.split_turns, "seed": self.seed, **self.generation}
        return {
            "data_dir": str(Path(self.emoset_root).resolve()), "sampling": self.sampling,
            "conversation_per_class": self.conversation_per_class, "reasoning_per_class": self.reasoning_per_class,
            "categorical_range": tuple(self.categorical_range), "generator": self.generator,
            "captioner": self.captioner, "generation": generation, "embed_images": self.embed_images,
            "splits": self.splits, "curation": self.curation, "verify_images": self.verify_images,
            "shard_images": self.shard_images, "max_pixels": self.max_pixels,
            "exclude_cross_split_duplicates": self.exclude_cross_split_duplicates,
        }


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
