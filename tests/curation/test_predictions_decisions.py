"""Predictions as model opinions and App tags as decisions, without a database."""

from __future__ import annotations

import json
import math

import pytest

from builder.curation.decisions import TaggedImage, decisions_from_tags
from builder.curation.predictions import (
    field_name,
    find_prediction_files,
    read_model_predictions,
    softmax_confidence,
)
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS


def _row(image_id="awe_00001", model="m", pred="awe", scores=None, task="emoset8", raw=None):
    return {"id": image_id, "image_id": image_id, "model": model, "task": task, "gold": image_id.split("_")[0],
            "pred": pred, "raw": raw, "scores": scores}


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_confidence_is_the_softmax_probability_of_the_prediction():
    scores = {e: float(i) for i, e in enumerate(EMOTIONS)}
    confidence, logits = softmax_confidence(scores, "sadness", EMOTIONS)
    assert logits == tuple(float(i) for i in range(8))
    assert confidence == pytest.approx(math.exp(7) / sum(math.exp(i) for i in range(8)))
    assert softmax_confidence({"awe": 1.0}, "awe", EMOTIONS) == (None, None)  # scores must cover every label


def _has_scores(model) -> bool:
    return any(opinion.logits is not None for opinion in model.opinions.values())


def test_run_directories_are_searched_and_models_grouped(tmp_path):
    scores = {e: -5.0 for e in EMOTIONS} | {"awe": 0.0}
    _write(tmp_path / "run" / "a" / "predictions.jsonl", [_row(scores=scores), _row("fear_00002", pred=None,
                                                                                      raw="dunno")])
    _write(tmp_path / "run" / "b" / "predictions.jsonl", [_row(model="llava-1.5/7b", pred="fear", raw="fear"),
                                                          "{broken", _row(pred="joy", image_id="awe_00009")])
    files = find_prediction_files(tmp_path / "run")
    assert [f.parent.name for f in files] == ["a", "b"]
    loaded = read_model_predictions([tmp_path / "run"], EMOTIONS)
    assert sorted(loaded.models) == ["llava-1.5/7b", "m"]
    m, llava = loaded.models["m"], loaded.models["llava-1.5/7b"]
    assert m.field == "pred_m" and llava.field == "pred_llava_1_5_7b" == field_name("llava-1.5/7b")
    assert _has_scores(m) and not _has_scores(llava) and m.unparsed == 1
    assert m.opinions["awe_00001"].label == "awe"
    assert m.opinions["awe_00001"].confidence == pytest.approx(1 / (1 + 7 * math.exp(-5.0)))
    assert llava.opinions["awe_00001"].confidence is None
    assert len(loaded.rejected_lines) == 2 and all("predictions.jsonl:" in line for line in loaded.rejected_lines)


def test_two_predictions_of_one_model_for_one_image_are_refused(tmp_path):
    path = _write(tmp_path / "p.jsonl", [_row(raw="awe", task="emoset8"), _row(raw="awe", task="emoset8-other")])
    with pytest.raises(UsageError, match="model 'm' has two predictions for image 'awe_00001'"):
        read_model_predictions([path], EMOTIONS)


def test_missing_predictions_are_one_clear_error(tmp_path):
    with pytest.raises(UsageError, match="predictions file or run directory not found"):
        read_model_predictions([tmp_path / "nope.jsonl"], EMOTIONS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no predictions.jsonl in this run directory"):
        read_model_predictions([tmp_path / "empty"], EMOTIONS)


def test_tags_become_decisions_with_reasons():
    images = [TaggedImage("awe_00002", ("train", "exclude"), ("near-duplicates",)),
              TaggedImage("fear_00001", ("test", "relabel:sadness")),
              TaggedImage("awe_00003", ("train", "reviewed"))]
    decisions = decisions_from_tags(images, EMOTIONS, dataset_name="d")
    assert decisions.exclude == {"awe_00002": "tagged 'exclude' in FiftyOne dataset 'd' (in near-duplicates)"}
    assert decisions.relabel == {"fear_00001": ("sadness", "tagged 'relabel:sadness' in FiftyOne dataset 'd'")}


def test_conflicting_tags_name_every_image():
    images = [TaggedImage("awe_00002", ("exclude", "relabel:fear")),
              TaggedImage("awe_00003", ("relabel:fear", "relabel:sadness")),
              TaggedImage("awe_00004", ("relabel:joy",)),
              TaggedImage("awe_00005", ("exclude",))]
    with pytest.raises(UsageError) as error:
        decisions_from_tags(images, EMOTIONS, dataset_name="d")
    assert str(error.value) == (
        "conflicting curation tags; fix them in the App: awe_00002: tagged both 'exclude' and 'relabel:fear'; "
        "awe_00003: tagged with 2 relabels (fear, sadness); "
        f"awe_00004: tag 'relabel:joy' names no emotion of {', '.join(EMOTIONS)}")
