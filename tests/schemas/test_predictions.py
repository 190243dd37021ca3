"""The predictions schema: good rows pass, each kind of bad line is rejected with its file and line."""

from __future__ import annotations

import json

import pytest

from schemas.errors import UsageError
from schemas.predictions import read_predictions

LABELS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")


def _row(**overrides):
    row = {"id": "awe_1", "image_id": "awe_1", "model": "m", "task": "emoset8", "gold": "awe", "pred": "awe",
           "raw": None, "scores": {label: -1.0 for label in LABELS}}
    row.update(overrides)
    return row


def test_good_rows_pass_and_bad_lines_are_reported_not_dropped(tmp_path):
    lines = [
        json.dumps(_row()),                                                   # 1 ok (rank mode)
        json.dumps(_row(id="fear_2", image_id="fear_2", gold="fear", pred=None, raw="no idea", scores=None)),  # 2 ok
        "{not json",                                                          # 3
        json.dumps(_row(id="x3", pred="joy")),                                # 4 pred not a label
        json.dumps(_row(id="x4", raw=None, scores=None)),                     # 5 neither raw nor scores
        json.dumps(_row()),                                                   # 6 duplicate id for (model, task)
        json.dumps({"id": "x6"}),                                             # 7 missing fields
        json.dumps(_row(id="x7", scores={"awe": "high"})),                    # 8 non-numeric score
        json.dumps(_row(id="awe_1", model="other")),                          # 9 ok: same id, other model
    ]
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = read_predictions(path, LABELS)
    assert list(result.rows.index) == [1, 2, 9]
    assert result.rows.loc[2, "pred"] is None and result.rows.loc[2, "scores"] is None
    assert sorted(result.rejected) == [3, 4, 5, 6, 7, 8]
    assert result.lines == 9
    assert result.rejected[3].startswith(f"{path}:3: not valid JSON")
    assert "pred_is_a_label" in result.rejected[4]
    assert "raw_or_scores_present" in result.rejected[5]
    assert "id_unique_per_model_and_task" in result.rejected[6]
    assert "expected fields" in result.rejected[7]
    assert "scores_are_finite_numbers_per_label" in result.rejected[8]


def test_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read predictions"):
        read_predictions(tmp_path / "missing.jsonl")
