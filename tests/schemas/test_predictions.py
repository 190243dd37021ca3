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
        json.dumps({"id": "x4", "gold": "awe"}),                              # 5 neither pred nor raw
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
    assert "a line needs id, gold and pred (or raw); got gold, id" in result.rejected[5]
    assert "id_unique_per_model_and_task" in result.rejected[6]
    assert "a line needs id, gold and pred (or raw); got id" in result.rejected[7]
    assert "scores_are_finite_numbers_per_label" in result.rejected[8]


def test_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read predictions"):
        read_predictions(tmp_path / "missing.jsonl")


def test_minimal_foreign_lines_are_filled_in_from_config_or_folders(tmp_path):
    run = tmp_path / "their-model" / "their-task"
    run.mkdir(parents=True)
    lines = [{"id": 7, "gold": "awe", "pred": "awe"},                       # minimal, integer id
             {"id": "b", "gold": "fear", "raw": "I think fear.", "extra": [1, 2]},  # text only, unknown field
             {"id": "c", "gold": "awe", "pred": None, "model": "named", "task": "emoset8"}]
    (run / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = read_predictions(run / "predictions.jsonl", LABELS)
    assert not result.rejected and result.config is None and result.warnings == []
    rows = result.rows.to_dict("records")
    assert [(r["id"], r["image_id"], r["model"], r["task"]) for r in rows] == [
        ("7", "7", "their-model", "their-task"), ("b", "b", "their-model", "their-task"),
        ("c", "c", "named", "emoset8")]
    assert rows[1]["pred"] is None and rows[1]["raw"] == "I think fear." and rows[0]["scores"] is None
    (run / "config.json").write_text(json.dumps({"model": {"name": "from-config"}, "task": "emoset8"}))
    rows = read_predictions(run / "predictions.jsonl", LABELS).rows.to_dict("records")
    assert [(r["model"], r["task"]) for r in rows] == [("from-config", "emoset8")] * 2 + [("named", "emoset8")]
    (run / "config.json").write_text('{"model": ')
    result = read_predictions(run / "predictions.jsonl", LABELS)
    assert result.config is None and len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{run / 'config.json'}: unreadable run config (JSONDecodeError")
    assert {r["model"] for r in result.rows.to_dict("records")} == {"their-model", "named"}


def test_a_blank_gold_label_is_a_rejected_line(tmp_path):
    """Found by the fuzzing suite: a gold of only spaces passed the length check and crashed the metrics."""
    from schemas.predictions import read_predictions

    path = tmp_path / "m" / "t" / "predictions.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "s0", "gold": " ", "pred": "awe"}\n{"id": "s1", "gold": "awe", "pred": "awe"}\n',
                    encoding="utf-8")
    read = read_predictions(path)
    assert list(read.rejected) == [1] and "gold_is_not_blank" in read.rejected[1]
    assert [record["id"] for record in read.records] == ["s1"]
