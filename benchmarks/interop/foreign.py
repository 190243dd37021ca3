"""What an importer reads from another harness's files: one :class:`ForeignRun` per model and task, its
samples as the tool saved them (:class:`ForeignSample`). :mod:`benchmarks.interop.importing` turns them into
run folders of our contract; the readers (:mod:`benchmarks.interop.importers`) only fill these in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ForeignSample:
    """One answered sample as the other tool saved it.

    ``gold`` is the tool's gold answer (``None`` when it has none); ``raw`` the answer text to parse;
    ``where`` names the file and line or row it came from; ``letter`` whether ``raw`` was a bare option
    letter the reader replaced with its option's text.
    """

    id: str
    gold: str | None
    raw: str
    where: str
    image_id: str | None = None
    letter: bool = False


@dataclass
class ForeignRun:
    """One model's answers to one task of the other tool, with what the tool recorded about the run."""

    tool: str
    model: str
    task: str
    samples: list[ForeignSample]
    files: list[Path]
    details: dict = field(default_factory=dict)
    labels: tuple[str, ...] | None = None


__all__ = ["ForeignRun", "ForeignSample"]
