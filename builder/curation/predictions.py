"""Benchmark predictions (``predictions.jsonl``, schema in :mod:`schemas.predictions`) as model opinions.

Each model becomes one sample field, ``pred_<model>`` (characters other than letters, digits and ``_``
replaced by ``_``), matched to samples by ``image_id``. When a row has per-label ``scores``, the opinion
carries them as logits (in the dataset's emotion order) and a confidence: the softmax probability of the
predicted label. A row whose ``pred`` is null (an answer that could not be parsed) gives no opinion.

Per model and task it also keeps the images the model got wrong (``pred`` other than the row's ``gold``, or
null: scored wrong, as the leaderboard counts it), which ``curate load`` saves as one view each
(:func:`builder.curation.views.save_misclassified_views`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import UsageError
from schemas.predictions import read_predictions

PREDICTIONS_FILE = "predictions.jsonl"


@dataclass(frozen=True)
class Opinion:
    """One model's prediction for one image."""

    label: str
    confidence: float | None
    logits: tuple[float, ...] | None


@dataclass
class ModelPredictions:
    """All opinions of one model, by image id."""

    model: str
    field: str
    opinions: dict[str, Opinion] = field(default_factory=dict)
    unparsed: int = 0
    #: ``{task: rows scored}`` and ``{task: image ids answered wrong or not at all}`` (in file order).
    scored: dict[str, int] = field(default_factory=dict)
    misclassified: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class PredictionsLoad:
    """Predictions read from files: per model, plus what could not be used."""

    models: dict[str, ModelPredictions]
    files: list[str]
    rejected_lines: list[str]


def field_name(model: str) -> str:
    """The sample field holding ``model``'s predictions."""
    return "pred_" + re.sub(r"[^0-9A-Za-z_]", "_", model)


def find_prediction_files(path: str | Path) -> list[Path]:
    """``path`` itself when it is a file; in a run directory, its ``predictions.jsonl`` files (recursively)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        direct = path / PREDICTIONS_FILE
        found = [direct] if direct.is_file() else sorted(path.rglob(PREDICTIONS_FILE))
        if found:
            return found
        raise UsageError(f"{path}: no {PREDICTIONS_FILE} in this run directory")
    raise UsageError(f"{path}: predictions file or run directory not found")


def softmax_confidence(scores: dict[str, float], label: str, emotions: tuple[str, ...]
                       ) -> tuple[float | None, tuple[float, ...] | None]:
    """``(confidence of label, logits in emotion order)``; ``(None, None)`` when scores miss an emotion."""
    if any(emotion not in scores for emotion in emotions):
        return None, None
    logits = tuple(float(scores[emotion]) for emotion in emotions)
    top = max(logits)
    total = sum(math.exp(value - top) for value in logits)
    confidence = math.exp(logits[emotions.index(label)] - top) / total if label in emotions else None
    return confidence, logits


def read_model_predictions(paths: list[str | Path], emotions: tuple[str, ...]) -> PredictionsLoad:
    """Read every predictions file (or run directory) in ``paths``, grouped by model.

    A model may appear in several files but must give one prediction per image: predictions of the same
    model for one image from two tasks or runs are a :class:`~schemas.errors.UsageError`. Lines that fail
    the schema are returned as ``rejected_lines`` (with file and line number), never silently dropped.
    """
    models: dict[str, ModelPredictions] = {}
    seen: dict[str, set[str]] = {}
    fields: dict[str, str] = {}
    files: list[str] = []
    rejected: list[str] = []
    for given in paths:
        for path in find_prediction_files(given):
            files.append(str(path))
            loaded = read_predictions(path, labels=emotions)
            rejected.extend(loaded.rejected.values())
            for row in loaded.rows.itertuples(index=False):
                name = field_name(row.model)
                if fields.setdefault(name, row.model) != row.model:
                    raise UsageError(f"{path}: models {fields[name]!r} and {row.model!r} both map to field {name!r}")
                model = models.setdefault(row.model, ModelPredictions(row.model, name))
                if row.image_id in seen.setdefault(row.model, set()):
                    raise UsageError(f"{path}: model {row.model!r} has two predictions for image {row.image_id!r} "
                                     f"(task {row.task!r} among them); load one task's predictions per model")
                seen[row.model].add(row.image_id)
                model.scored[row.task] = model.scored.get(row.task, 0) + 1
                wrong = model.misclassified.setdefault(row.task, [])
                if row.pred is None or row.pred != row.gold:
                    wrong.append(row.image_id)
                if row.pred is None:
                    model.unparsed += 1
                    continue
                confidence, logits = softmax_confidence(row.scores, row.pred, emotions) if row.scores \
                    else (None, None)
                model.opinions[row.image_id] = Opinion(row.pred, confidence, logits)
    return PredictionsLoad(models, files, rejected)
