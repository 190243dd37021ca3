"""The contract between the generation stage and the dataset builder.

The builder hands a generator a list of :class:`GenerationItem` (one per image and kind) and gets back a
:class:`GenerationOutcome`: instruction records for the dataset, quarantine entries for what failed, and
usage figures for the report. Every item ends in exactly one of the two lists (or several records when a
multi-turn answer is split into single QA samples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from builder.sources.records import QuarantineEntry, SourceRecord


@dataclass(frozen=True)
class GeneratorInfo:
    """Provenance stored with every generated sample (the dataset's ``generator`` column)."""

    backend: str
    model: str
    prompt_version: str
    temperature: float
    seed: int

    def as_dict(self) -> dict:
        return {"backend": self.backend, "model": self.model, "prompt_version": self.prompt_version,
                "temperature": float(self.temperature), "seed": int(self.seed)}


@dataclass(frozen=True)
class GenerationItem:
    """One request: an image record, its caption and the instruction kind to produce."""

    record: SourceRecord
    caption: str
    kind: str


@dataclass(frozen=True)
class InstructionRecord:
    """One instruction sample in LLaVA conversation format, before it becomes a dataset row."""

    id: str
    image_id: str
    split: str
    image_path: str
    emotion: str
    attributes: dict
    caption: str
    kind: str
    conversations: tuple[dict, ...]
    generator: GeneratorInfo

    def to_row(self) -> dict:
        """The dataset row (``image`` is the path; the builder decides whether to embed bytes)."""
        return {
            "id": self.id, "image_id": self.image_id, "image": self.image_path, "emotion": self.emotion,
            "attributes": dict(self.attributes), "caption": self.caption, "kind": self.kind,
            "conversations": [dict(turn) for turn in self.conversations], "generator": self.generator.as_dict(),
        }


@dataclass
class GenerationUsage:
    """Counters for the report.

    ``generations`` counts the items a generator had to write (conversation and reasoning; categorical
    samples are fixed by the protocol); ``failed`` how many of them produced no sample. ``requests`` are
    HTTP requests sent (retries included), ``cached`` items answered from the response cache; tokens and
    the estimated cost cover fresh responses only.
    """

    generations: int = 0
    requests: int = 0
    cached: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: GenerationUsage) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def failure_rate(self) -> float:
        """Share of generations that failed (0 when there were none)."""
        return self.failed / self.generations if self.generations else 0.0


@dataclass
class GenerationOutcome:
    """What a generator returns for a list of items."""

    records: list[InstructionRecord] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    usage: GenerationUsage = field(default_factory=GenerationUsage)


class InstructionGenerator(Protocol):
    """A backend that turns items into instruction records (``template``, ``openai:<model>``)."""

    info: GeneratorInfo

    def check_ready(self) -> None:
        """Raise :class:`~schemas.errors.UsageError` when the backend cannot run (e.g. no API key), before
        any work starts."""
        ...

    def generate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        """Generate every item; never raises for a single failed item (it goes to ``quarantined``)."""
        ...
