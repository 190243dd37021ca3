"""Schema of per-sample predictions (``predictions.jsonl`` of a benchmark run), shared by the leaderboard
harness that writes and re-scores them and the curation tools that load them as model opinions.

One JSON object per line::

    {"id": "awe_00012", "image_id": "awe_00012", "model": "emovit", "task": "emoset8",
     "gold": "awe", "pred": "awe", "raw": null, "scores": {"amusement": -3.2, "awe": -0.4, ...}}

``pred`` is null when a generated answer could not be parsed (never a guessed label); ``raw`` holds the
generated text (null in rank mode); ``scores`` holds one score per candidate label (null in generate mode).
At least one of ``raw`` and ``scores`` is present. ``id`` is unique per (model, task).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.errors import UsageError
from schemas.validation import RowFailure, validate_frame

#: Columns every prediction row has, in file order.
PREDICTION_FIELDS: tuple[str, ...] = ("id", "image_id", "model", "task", "gold", "pred", "raw", "scores")


def _scores_ok(value) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for k, v in value.items())


class PredictionModel(pa.DataFrameModel):
    """Types and structure of prediction rows; label rules come from :func:`prediction_schema`."""

    id: Series[str] = pa.Field(str_length={"min_value": 1})
    image_id: Series[str] = pa.Field(str_length={"min_value": 1})
    model: Series[str] = pa.Field(str_length={"min_value": 1})
    task: Series[str] = pa.Field(str_length={"min_value": 1})
    gold: Series[str] = pa.Field(str_length={"min_value": 1})
    pred: Series[str] = pa.Field(nullable=True)
    raw: Series[str] = pa.Field(nullable=True)
    scores: Series[object] = pa.Field(nullable=True)

    @pa.check("scores", element_wise=True, name="scores_are_finite_numbers_per_label")
    def scores_are_numbers(cls, value) -> bool:
        return _scores_ok(value)

    @pa.dataframe_check(name="raw_or_scores_present")
    def raw_or_scores(cls, frame: pd.DataFrame) -> pd.Series:
        return frame["raw"].notna() | frame["scores"].notna()

    @pa.dataframe_check(name="id_unique_per_model_and_task")
    def unique_ids(cls, frame: pd.DataFrame) -> pd.Series:
        return ~frame.duplicated(subset=["model", "task", "id"], keep="first")

    class Config:
        strict = True
        coerce = False


def prediction_schema(labels: tuple[str, ...] | None = None) -> pa.DataFrameSchema:
    """The prediction schema; with ``labels``, ``gold`` and ``pred`` (when not null) must be among them."""
    schema = PredictionModel.to_schema()
    if labels is None:
        return schema
    allowed = list(labels)
    schema = schema.update_column("gold", checks=[*schema.columns["gold"].checks,
                                                  pa.Check.isin(allowed, name="gold_is_a_label")])
    return schema.update_column("pred", checks=[
        *schema.columns["pred"].checks, pa.Check(lambda s: s.isna() | s.isin(allowed), name="pred_is_a_label")])


@dataclass
class PredictionFile:
    """The rows of a predictions file that passed the schema, and why each other line was rejected."""

    path: Path
    rows: pd.DataFrame
    rejected: dict[int, str]

    @property
    def lines(self) -> int:
        return len(self.rows) + len(self.rejected)


def read_predictions(path: str | Path, labels: tuple[str, ...] | None = None) -> PredictionFile:
    """Read and validate a ``predictions.jsonl`` file; bad lines are returned with reasons, never dropped.

    Raises :class:`~schemas.errors.UsageError` (naming the file) when it cannot be read at all.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read predictions ({exc.strerror})") from None
    records, numbers, rejected = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            rejected[number] = f"{path}:{number}: not valid JSON ({exc})"
            continue
        if not isinstance(record, dict) or set(record) != set(PREDICTION_FIELDS):
            have = sorted(record) if isinstance(record, dict) else type(record).__name__
            rejected[number] = f"{path}:{number}: expected fields {', '.join(PREDICTION_FIELDS)}, got {have}"
            continue
        records.append(record)
        numbers.append(number)
    frame = pd.DataFrame(records, columns=list(PREDICTION_FIELDS), index=numbers).astype(
        {"pred": "object", "raw": "object", "scores": "object"})
    frame = frame.replace({float("nan"): None})
    outcome = validate_frame(frame, prediction_schema(labels))
    for number, failures in outcome.failures.items():
        rejected[number] = f"{path}:{number}: " + "; ".join(f.describe() for f in failures)
    return PredictionFile(path, outcome.valid, dict(sorted(rejected.items())))


__all__ = ["PREDICTION_FIELDS", "PredictionFile", "PredictionModel", "RowFailure", "prediction_schema",
           "read_predictions"]
