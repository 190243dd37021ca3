"""Schema of per-sample predictions (``predictions.jsonl`` of a benchmark run), shared by the leaderboard
harness that writes and re-scores them and the curation tools that load them as model opinions.

Be strict in what you write, liberal in what you read. Our writers emit one JSON object per line with every
field::

    {"id": "awe_00012", "image_id": "awe_00012", "model": "emovit", "task": "emoset8",
     "gold": "awe", "pred": "awe", "raw": null, "scores": {"amusement": -3.2, "awe": -0.4, ...}}

``pred`` is null when a generated answer could not be parsed (never a guessed label); ``raw`` holds the
generated text (null in rank mode); ``scores`` holds one score per candidate label (null in generate mode).
``id`` is unique per (model, task). One optional field, ``variant``, names the instruction paraphrase a row
answered (the sensitivity task).

Our reader accepts any line that carries ``id``, ``gold`` and ``pred`` (or ``raw`` to re-parse); every other
field is optional and unknown fields are ignored. A missing ``image_id`` is the ``id`` (an integer id reads
as its decimal string); a missing ``model`` or ``task`` comes from the run's ``config.json`` (whatever its
shape: ``"model": "name"`` or ``"model": {"name": ...}``), else from the folder names
``<model>/<task>/predictions.jsonl``. A ``config.json`` that cannot be read is ignored with a warning.

Lines are split on ``\\n`` only and a byte-order mark is accepted (:mod:`schemas.jsonlines`). Labels are matched
by name, trimmed and case-folded (:func:`label_key`): ``" Anger"`` and ``"anger"`` are one label, reported in
the task's spelling (the declared labels), else in the spelling the file uses most. A blank ``pred`` is no
answer (null).

:class:`LeaderboardRowModel` is the contract of ``leaderboard.json`` rows (one per model and task).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.errors import UsageError
from schemas.validation import RowFailure, validate_frame

#: Columns every prediction row has after reading, in file order (what our writers emit).
PREDICTION_FIELDS: tuple[str, ...] = ("id", "image_id", "model", "task", "gold", "pred", "raw", "scores")
#: Columns a prediction row may have besides those (missing ones read as null).
OPTIONAL_PREDICTION_FIELDS: tuple[str, ...] = ("variant",)
#: Fields a line must carry; it also needs ``pred`` or a non-null ``raw``.
REQUIRED_PREDICTION_FIELDS: tuple[str, ...] = ("id", "gold")
#: The run config beside a predictions file.
RUN_CONFIG = "config.json"


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
    variant: Series[str] = pa.Field(nullable=True)

    @pa.check("gold", name="gold_is_not_blank")
    def gold_not_blank(cls, gold: Series[str]) -> Series[bool]:
        return gold.str.strip().str.len() > 0

    @pa.check("scores", element_wise=True, name="scores_are_finite_numbers_per_label")
    def scores_are_numbers(cls, value) -> bool:
        return _scores_ok(value)

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
    """The rows of a predictions file that passed the schema, and why each other line was rejected.

    ``rows`` is a frame indexed by line number; ``records`` holds the same rows as dicts (what the
    leaderboard iterates, without a round trip through pandas). ``config`` is the run's ``config.json``
    (``None`` when absent or unreadable; ``warnings`` then says why).
    """

    path: Path
    rows: pd.DataFrame
    rejected: dict[int, str]
    config: dict | None = None
    warnings: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return len(self.rows) + len(self.rejected)


def read_run_config(folder: str | Path) -> tuple[dict | None, str | None]:
    """``(config, warning)`` for the ``config.json`` in ``folder``: ``(None, None)`` when there is none,
    ``(None, reason)`` when it cannot be read or is not a JSON object."""
    path = Path(folder) / RUN_CONFIG
    if not path.is_file():
        return None, None
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{path}: unreadable run config ({type(exc).__name__}: {str(exc)[:120]}); ignored"
    if not isinstance(document, dict):
        return None, f"{path}: run config is a JSON {type(document).__name__}, not an object; ignored"
    return document, None


def config_name(config: dict | None, key: str) -> str | None:
    """The name a run config gives its ``key`` (``model`` or ``task``): a string value, or the ``name`` of
    a mapping; ``None`` for any other shape."""
    value = (config or {}).get(key)
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) and value else None


def label_key(label: str) -> str:
    """How labels compare: by name, surrounding spaces trimmed and case folded (``" Anger"`` is ``anger``)."""
    return label.strip().casefold()


def config_labels(config: dict | None) -> tuple[str, ...] | None:
    """The label set a run config declares (``task.labels`` or a top-level ``labels``), trimmed, if it is a
    list of non-blank strings that stay distinct under :func:`label_key`."""
    config = config if isinstance(config, dict) else {}
    task = config.get("task")
    for labels in ((task or {}).get("labels") if isinstance(task, dict) else None, config.get("labels")):
        if (isinstance(labels, list) and labels and all(isinstance(x, str) and x.strip() for x in labels)
                and len({label_key(x) for x in labels}) == len(labels)):
            return tuple(x.strip() for x in labels)
    return None


def canonical_spellings(values) -> dict[str, str]:
    """``{label_key: spelling}`` for label strings as a file writes them: each label in the spelling used
    most (the first one seen on a tie), trimmed."""
    counts: dict[str, Counter] = {}
    for value in values:
        if isinstance(value, str) and value.strip():
            counts.setdefault(label_key(value), Counter())[value.strip()] += 1
    return {key: found.most_common(1)[0][0] for key, found in counts.items()}


def canonical_labels(records: list[dict], spellings: dict[str, str]) -> None:
    """Rewrite ``gold`` and ``pred`` of ``records`` (in place) in the spelling ``spellings`` gives their
    :func:`label_key`; labels it does not know stay as they are (the schema then names them); a blank
    ``pred`` becomes null (no answer)."""
    for record in records:
        gold, pred = record["gold"], record["pred"]
        if isinstance(gold, str):
            record["gold"] = spellings.get(label_key(gold), gold)
        if isinstance(pred, str):
            record["pred"] = spellings.get(label_key(pred), pred) if pred.strip() else None


def _identity(path: Path, config: dict | None) -> dict[str, str]:
    """Default ``model`` and ``task`` of a file's lines: from its config, else ``<model>/<task>/`` folders."""
    folders = Path(os.path.abspath(path)).parent  # symlinked folders keep the names they were found under
    return {"model": config_name(config, "model") or folders.parent.name or "unknown",
            "task": config_name(config, "task") or folders.name or "unknown"}


def _as_id(value):
    """Integer ids (``doc_id``, ``index``) read as their decimal strings; other values are left to the schema."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_FIELDS = PREDICTION_FIELDS + OPTIONAL_PREDICTION_FIELDS
_NULLABLE = ("pred", "raw", "scores", "variant")


def _normalised(record: dict, defaults: dict[str, str]) -> dict:
    get = record.get
    row = {name: get(name) for name in _FIELDS}
    for name in _NULLABLE:  # a JSON NaN reads as null
        value = row[name]
        if value.__class__ is float and math.isnan(value):
            row[name] = None
    row["id"] = _as_id(row["id"])
    row["image_id"] = _as_id(row["image_id"]) if row["image_id"] is not None else row["id"]
    for name in ("model", "task"):
        if row[name] is None:
            row[name] = defaults[name]
    return row


def read_predictions(path: str | Path, labels: tuple[str, ...] | None = None) -> PredictionFile:
    """Read and validate a ``predictions.jsonl`` file; bad lines are returned with reasons, never dropped.

    Lines need ``id``, ``gold`` and ``pred`` (or ``raw``); missing ``image_id``, ``model`` and ``task`` are
    filled in as the module docstring says. Raises :class:`~schemas.errors.UsageError` (naming the file)
    when it cannot be read at all.
    """
    from schemas.jsonlines import BadLine, parse_lines, read_text

    path = Path(path)
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read predictions ({getattr(exc, 'strerror', None) or exc})") from None
    config, warning = read_run_config(path.parent)
    defaults = _identity(path, config)
    records, numbers, rejected = [], [], {}
    for number, record in parse_lines(text):
        if isinstance(record, BadLine):
            rejected[number] = f"{path}:{number}: not valid JSON ({record.message})"
            continue
        if not isinstance(record, dict) or any(name not in record for name in REQUIRED_PREDICTION_FIELDS) \
                or ("pred" not in record and record.get("raw") is None):
            have = ", ".join(sorted(record)) if isinstance(record, dict) else f"a JSON {type(record).__name__}"
            rejected[number] = f"{path}:{number}: a line needs id, gold and pred (or raw); got {have or 'nothing'}"
            continue
        records.append(_normalised(record, defaults))
        numbers.append(number)
    spellings = ({label_key(label): label for label in labels} if labels is not None else
                 canonical_spellings(value for record in records for value in (record["gold"], record["pred"])))
    canonical_labels(records, spellings)
    frame = pd.DataFrame(records, columns=list(_FIELDS), index=numbers).astype(dict.fromkeys(_NULLABLE, "object"))
    frame = frame.replace({float("nan"): None})  # pandas reads None in a column of strings as NaN
    outcome = validate_frame(frame, prediction_schema(labels))
    for number, failures in outcome.failures.items():
        rejected[number] = f"{path}:{number}: " + "; ".join(f.describe() for f in failures)
    valid = [record for number, record in zip(numbers, records) if number not in outcome.failures]
    return PredictionFile(path, outcome.valid, dict(sorted(rejected.items())), config,
                          [warning] if warning else [], valid)


def _unit_interval(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: The row figures that are ``None`` where they do not apply (never NaN).
_NULLABLE_FIGURES = ("rank", "tied_with_best", "p_vs_best", "p_vs_best_holm", "calibration_n", "ece", "brier", "nll",
                     "top_label_share", "top_label_flag", "tv_distance")


class LeaderboardRowModel(pa.DataFrameModel):
    """One ``leaderboard.json`` row: a model's figures on one task, recomputed from its predictions.

    ``accuracy_ci`` is ``[low, high]`` around ``accuracy``; ``mcnemar`` maps every other model scored on the
    same task to the exact McNemar p-value over the ids both scored.

    The figures beyond accuracy are ``None`` where they do not apply (``null`` in JSON, "–" on the page):
    ``rank`` (1 + the models significantly better), ``tied_with_best`` and the exact McNemar ``p_vs_best`` with
    Holm's ``p_vs_best_holm`` (``None`` for the best model and for one that shares no sample with it);
    calibration from per-label scores (``calibration_n``, ``ece``, ``brier`` in [0, 2], ``nll`` >= 0, each with
    a ``*_ci``; ``None`` without scores); answer health (``top_label_share``, ``top_label_flag``,
    ``tv_distance``, with their ``*_ci``; ``None`` when nothing was readable).
    """

    model: Series[str] = pa.Field(str_length={"min_value": 1})
    task: Series[str] = pa.Field(str_length={"min_value": 1})
    n: Series[int] = pa.Field(ge=1)
    accuracy: Series[float] = pa.Field(ge=0.0, le=1.0)
    accuracy_ci: Series[object]
    macro_f1: Series[float] = pa.Field(ge=0.0, le=1.0)
    uar: Series[float] = pa.Field(ge=0.0, le=1.0)
    parse_failure_rate: Series[float] = pa.Field(ge=0.0, le=1.0)
    mcnemar: Series[object]
    rank: Series[object] = pa.Field(nullable=True)
    tied_with_best: Series[object] = pa.Field(nullable=True)
    p_vs_best: Series[object] = pa.Field(nullable=True)
    p_vs_best_holm: Series[object] = pa.Field(nullable=True)
    calibration_n: Series[object] = pa.Field(nullable=True)
    ece: Series[object] = pa.Field(nullable=True)
    ece_ci: Series[object] = pa.Field(nullable=True)
    brier: Series[object] = pa.Field(nullable=True)
    brier_ci: Series[object] = pa.Field(nullable=True)
    nll: Series[object] = pa.Field(nullable=True)
    nll_ci: Series[object] = pa.Field(nullable=True)
    top_label_share: Series[object] = pa.Field(nullable=True)
    top_label_share_ci: Series[object] = pa.Field(nullable=True)
    top_label_flag: Series[object] = pa.Field(nullable=True)
    tv_distance: Series[object] = pa.Field(nullable=True)
    tv_distance_ci: Series[object] = pa.Field(nullable=True)

    @pa.check("rank", "calibration_n", element_wise=True, name="none_or_count_at_least_one")
    def count(cls, value) -> bool:
        return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)

    @pa.check("tied_with_best", "top_label_flag", element_wise=True, name="none_or_boolean")
    def flag(cls, value) -> bool:
        return value is None or isinstance(value, bool)

    @pa.check("p_vs_best", "p_vs_best_holm", "ece", "top_label_share", "tv_distance", element_wise=True,
              name="none_or_in_unit_interval")
    def unit_or_none(cls, value) -> bool:
        return value is None or _unit_interval(value)

    @pa.check("brier", element_wise=True, name="none_or_brier_in_0_2")
    def brier_range(cls, value) -> bool:
        return value is None or (_finite(value) and 0.0 <= value <= 2.0)

    @pa.check("nll", element_wise=True, name="none_or_finite_non_negative")
    def nll_range(cls, value) -> bool:
        return value is None or (_finite(value) and value >= 0.0)

    @pa.check("ece_ci", "brier_ci", "nll_ci", "top_label_share_ci", "tv_distance_ci", element_wise=True,
              name="none_or_low_high_pair")
    def interval(cls, value) -> bool:
        return value is None or (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_finite, value))
                                 and value[0] <= value[1])

    # Per-run keys of the per-task sections (benchmarks.score.sections), null where a figure does not apply:
    # agreement with human votes, errors by polarity, option-order probes.
    human_kl: Series[object] = pa.Field(nullable=True)
    human_js: Series[object] = pa.Field(nullable=True)
    majority_accuracy: Series[object] = pa.Field(nullable=True)
    majority_n: Series[object] = pa.Field(nullable=True)
    valence_spearman: Series[object] = pa.Field(nullable=True)
    same_polarity_errors: Series[object] = pa.Field(nullable=True)
    cross_polarity_errors: Series[object] = pa.Field(nullable=True)
    cross_polarity_share: Series[object] = pa.Field(nullable=True)
    flip_rate: Series[object] = pa.Field(nullable=True)
    flip_n: Series[object] = pa.Field(nullable=True)
    gold_first_accuracy: Series[object] = pa.Field(nullable=True)
    gold_first_n: Series[object] = pa.Field(nullable=True)
    gold_last_accuracy: Series[object] = pa.Field(nullable=True)
    gold_last_n: Series[object] = pa.Field(nullable=True)

    @pa.check("human_js", "majority_accuracy", "cross_polarity_share", "flip_rate", "gold_first_accuracy",
              "gold_last_accuracy", element_wise=True, name="share_in_unit_interval")
    def section_share(cls, value) -> bool:
        return _unit_interval(value)

    @pa.check("majority_n", "same_polarity_errors", "cross_polarity_errors", "flip_n", "gold_first_n", "gold_last_n",
              element_wise=True, name="count_is_a_non_negative_integer")
    def section_count(cls, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    @pa.check("human_kl", element_wise=True, name="kl_is_a_non_negative_number")
    def section_kl(cls, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0

    @pa.check("valence_spearman", element_wise=True, name="correlation_in_minus_one_to_one")
    def section_rho(cls, value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and -1 - 1e-12 <= value <= 1 + 1e-12

    @pa.check("accuracy_ci", element_wise=True, name="ci_is_low_high_in_unit_interval")
    def ci_pair(cls, value) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == 2 and all(_unit_interval(v) for v in value)
                and value[0] <= value[1])

    @pa.check("mcnemar", element_wise=True, name="mcnemar_maps_models_to_p_values")
    def p_values(cls, value) -> bool:
        return isinstance(value, dict) and all(isinstance(k, str) and _unit_interval(v) for k, v in value.items())

    @pa.dataframe_check(name="accuracy_inside_its_ci")
    def inside(cls, frame: pd.DataFrame) -> pd.Series:
        return pd.Series([low - 1e-12 <= acc <= high + 1e-12 for acc, (low, high)
                          in zip(frame["accuracy"], frame["accuracy_ci"])], index=frame.index)

    @pa.dataframe_check(name="figures_are_null_never_nan")
    def no_nan(cls, frame: pd.DataFrame) -> pd.Series:
        figures = [column for column in _NULLABLE_FIGURES if column in frame]
        return pd.Series([not any(isinstance(v, float) and math.isnan(v) for v in values)
                          for values in frame[figures].itertuples(index=False)], index=frame.index)

    @pa.dataframe_check(name="one_row_per_model_and_task")
    def unique_rows(cls, frame: pd.DataFrame) -> pd.Series:
        return ~frame.duplicated(subset=["model", "task"], keep="first")

    class Config:
        strict = False  # rows carry more (per-class figures, provenance); these columns are the contract
        coerce = False


def validate_leaderboard_rows(rows: list[dict]) -> None:
    """Raise ``ValueError`` naming the failures when ``rows`` break :class:`LeaderboardRowModel`."""
    columns = list(LeaderboardRowModel.to_schema().columns)
    frame = pd.DataFrame({k: pd.Series([row.get(k) for row in rows], dtype=object) for k in columns}, columns=columns)
    if frame.empty:
        return
    frame = frame.astype({"n": "int64", "accuracy": "float64", "macro_f1": "float64", "uar": "float64",
                          "parse_failure_rate": "float64"})
    outcome = validate_frame(frame, LeaderboardRowModel.to_schema())
    if outcome.failures:
        details = "; ".join(f"row {index}: " + ", ".join(f.describe() for f in failures)
                            for index, failures in sorted(outcome.failures.items()))
        raise ValueError(f"leaderboard rows break the schema: {details}")


__all__ = ["OPTIONAL_PREDICTION_FIELDS", "PREDICTION_FIELDS", "REQUIRED_PREDICTION_FIELDS", "RUN_CONFIG",
           "LeaderboardRowModel", "PredictionFile", "PredictionModel", "RowFailure", "canonical_labels",
           "canonical_spellings", "config_labels", "config_name", "label_key", "prediction_schema", "read_predictions", "read_run_config", "validate_leaderboard_rows"]
