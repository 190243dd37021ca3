"""What every adapter does: find its checkpoint, load it as an :class:`EmotionClassifier`, check its type, name
what it loads in the run key, and (API models) record what the run cost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.errors import UsageError

#: Classifier options a model entry may set (``options:`` in a run config).
CLASSIFIER_OPTIONS = ("normalise", "length_normalise", "prompt_template", "chat_template", "clip_prompts",
                      "max_prompt_tokens")


@dataclass(frozen=True)
class Adapter:
    """A family of models the harness can score.

    Args:
        name: registry name (:data:`benchmarks.adapters.ADAPTERS`, which holds its one-line description).
        family: its row of :mod:`emovit_model.families`, which gives the model types it accepts, the real
            checkpoint used when a model entry names none, the tiny zoo kind standing in for it offline and
            how it trains.
        trainable: whether a model entry may ask for training (EmoVIT, LLaVA-ft); it trains with its family's
            default tuning unless the entry says otherwise.
        any_model: accept any checkpoint its family's scorer scores (``vlm``, ``openai``), not only the family's
            model types.
    """

    name: str
    family: str
    trainable: bool = False
    any_model: bool = False

    @property
    def _row(self):
        from emovit_model.families import FAMILIES

        return FAMILIES.entry(self.family)

    @property
    def description(self) -> str:
        """One line for listings."""
        from benchmarks.adapters import ADAPTERS

        return ADAPTERS[self.name].summary

    @property
    def model_types(self) -> tuple[str, ...]:
        """``config.model_type`` values this adapter accepts (empty: any its family's scorer scores)."""
        return () if self.any_model else self._row.model_types

    @property
    def checkpoint(self) -> str:
        """The real checkpoint used when a model entry names none."""
        return self._row.checkpoint

    @property
    def zoo_kind(self) -> str:
        """The tiny zoo kind standing in for it offline (empty: none)."""
        return self._row.zoo_kind

    @property
    def train_defaults(self) -> dict:
        """:class:`~emovit_model.train.TrainConfig` values this adapter trains with by default."""
        return {"tuning": self._row.tunings[0]} if self.trainable else {}

    @property
    def families(self) -> tuple[str, ...]:
        """The scorer families (``EmotionClassifier.family``) it accepts when ``model_types`` is empty."""
        return (self._row.load().family,)

    def prepare(self, entry: dict, workdir: Path) -> str | None:
        """The reference to load for ``entry`` before any training (``path`` as given); ``None`` when the
        entry must be trained first."""
        return entry.get("path")

    def identity(self, reference: str, entry: dict) -> str:
        """What the run key names as the model: the checkpoint's content digest (a Hub id as such)."""
        from emovit_model.checkpoint import checkpoint_identity

        return checkpoint_identity(reference)

    def key_options(self, options: dict) -> dict:
        """The entry options that change predictions (all of them, for local models): part of the run key."""
        return dict(options)

    def load(self, reference: str, *, device="auto", dtype="auto", options: dict | None = None,
             entry: dict | None = None, workdir: Path | None = None):
        """An :class:`~emovit_model.scoring.EmotionClassifier` on the checkpoint (or adapter) ``reference``."""
        from emovit_model.scoring import EmotionClassifier

        options = dict(options or {})
        unknown = sorted(set(options) - set(CLASSIFIER_OPTIONS))
        if unknown:
            raise UsageError(f"adapter {self.name}: unknown option(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(CLASSIFIER_OPTIONS)}")
        if "clip_prompts" in options:
            options["clip_prompts"] = tuple(options["clip_prompts"])
        classifier = EmotionClassifier.from_pretrained(reference, device=device, dtype=dtype, **options)
        self.check(classifier, reference)
        return classifier

    def check(self, classifier, reference: str) -> None:
        """Refuse a checkpoint of the wrong family (e.g. a BLIP-2 path given to the ``llava`` adapter)."""
        model_type = classifier.model.config.model_type
        if self.model_types and model_type not in self.model_types:
            raise UsageError(f"adapter {self.name} expects a {' or '.join(self.model_types)} checkpoint; "
                             f"{reference} is {model_type!r}")
        if not self.model_types and classifier.family not in self.families:
            raise UsageError(f"adapter {self.name} expects a {' or '.join(self.families)} model; {reference} is "
                             f"{model_type!r} (family {classifier.family})")

    def record_usage(self, directory: Path, carried: dict | None, before: dict | None, after: dict | None) -> None:
        """Write what scoring cost into the run's ``config.json`` (API models; nothing for local ones)."""

    def carried_usage(self, directory: Path, run_key: str) -> dict | None:
        """The cost recorded by earlier sessions of the same run (read before the run directory is reopened)."""
        return None
