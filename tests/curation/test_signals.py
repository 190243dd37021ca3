"""A planted build loaded into real FiftyOne: field types and values, and each saved view's exact members."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from schemas.protocol import CATEGORICAL_INSTRUCTION
from schemas.vocab import EMOTIONS
from tests.curation.conftest import (
    BYTE_TWIN,
    CONFIDENTLY_WRONG,
    DARK,
    DUPLICATE_SOURCE,
    LEAKY,
    NEAR_TWIN,
    REPEATED,
    SHORT,
    UNSURE_WRONG,
    WRONG_CATEGORICAL,
    mean_hsv_value,
    quantised,
)

VIEWS = ("pixel-mismatch", "near-duplicates", "instruction-flags", "likely-label-errors",
         "misclassified-confident-model-emoset8", "misclassified-generate-model-emoset8")


def _by_image(dataset, field):
    return dict(zip(*dataset.values(["image_id", field])))


def _members(dataset, view):
    return sorted(dataset.load_saved_view(view).values("image_id"))


def test_one_sample_per_image_with_the_declared_field_types(planted):
    import fiftyone as fo

    dataset, result = planted
    assert dataset.persistent and len(dataset) == 72 == result.load.images == result.load.added
    assert len(set(dataset.values("image_id"))) == 72
    schema = dataset.get_field_schema()
    for name in ("emotion", "scene", "facial_expression", "human_action", "pred_confident_model"):
        assert isinstance(schema[name], fo.EmbeddedDocumentField) and schema[name].document_type is fo.Classification
    assert schema["objects"].document_type is fo.Classifications
    for name in ("brightness", "colorfulness", "pixel_brightness", "brightness_diff", "uniqueness",
                 "label_mistakenness", "duplicate_distance"):
        assert isinstance(schema[name], fo.FloatField), name
    for name in ("image_id", "caption", "build_fingerprint", "generator", "duplicate_group"):
        assert isinstance(schema[name], fo.StringField), name
    for kind in ("categorical", "conversation", "reasoning"):
        assert isinstance(schema[f"instructions_{kind}"], fo.ListField)
    assert dataset.count_sample_tags() == {"train": 24, "val": 24, "test": 24}
    label_ids = dataset.values("emotion.id") + dataset.values("objects.classifications.id", unwind=True)
    assert len(label_ids) == len(set(label_ids)) > 72  # every label has its own id
    assert sorted(dataset.list_saved_views()) == sorted(VIEWS)


def test_fields_match_the_annotation_files_and_the_build(planted, planted_tree, planted_build):
    import datasets

    dataset, _ = planted
    report = json.loads((planted_build / "report.json").read_text())
    built = datasets.load_from_disk(str(planted_build))
    rows = [row for row in built["val"] if row["image_id"] == "awe_00004"]
    sample = dataset.match({"image_id": "awe_00004"}).first()
    annotation = json.loads((planted_tree / "annotation" / "awe" / "awe_00004.json").read_text())
    assert sample.emotion.label == "awe" and sample.split == "val" and sample.tags == ["val"]
    assert (sample.brightness, sample.colorfulness) == (annotation["brightness"], annotation["colorfulness"])
    assert (sample.scene.label if sample.scene else None) == annotation.get("scene")
    assert [c.label for c in sample.objects.classifications] == annotation.get("object", [])
    assert (sample.facial_expression.label if sample.facial_expression else None) == annotation.get(
        "facial_expression")
    assert sample.caption == rows[0]["caption"]
    assert sample.sample_ids == [row["id"] for row in rows]
    assert sample.instructions_categorical == [f"Q: {CATEGORICAL_INSTRUCTION}\nA: Predict emotion: awe"]
    conversation = [row for row in rows if row["kind"] == "conversation"]
    assert sample.instructions_conversation == [
        f"Q: {row['conversations'][0]['value'].removeprefix('<image>').lstrip()}\nA: {row['conversations'][1]['value']}"
        for row in conversation]
    assert sample.build_fingerprint == report["fingerprint"] and sample.generator == "template:phrases"
    assert sample.source == str(planted_build.resolve()) and sample.in_build is True
    with Image.open(sample.filepath) as stored, Image.open(planted_tree / "image/awe/awe_00004.jpg") as original:
        assert np.array_equal(np.asarray(stored), np.asarray(original))


def test_pixel_values_agree_with_an_independent_computation(planted, planted_tree):
    dataset, _ = planted
    measured = _by_image(dataset, "pixel_brightness")
    annotated = _by_image(dataset, "brightness")
    differences = _by_image(dataset, "brightness_diff")
    for image_id, value in measured.items():
        emotion = image_id.rsplit("_", 1)[0]
        expected = quantised(mean_hsv_value(planted_tree / "image" / emotion / f"{image_id}.jpg"))
        assert value == expected, image_id
        assert differences[image_id] == pytest.approx(abs(annotated[image_id] - expected), abs=1e-9)
    assert annotated[DARK] == 0.9 and measured[DARK] <= 0.2


def test_pixel_mismatch_view_holds_exactly_the_dark_image(planted):
    dataset, result = planted
    assert _members(dataset, "pixel-mismatch") == [DARK]
    assert result.signals.pixel_mismatch == 1
    differences = _by_image(dataset, "brightness_diff")
    assert differences[DARK] >= 0.7
    assert max(v for k, v in differences.items() if k != DARK) < 0.3


def _tiny(path: Path) -> np.ndarray:
    """8x8 block means of the RGB image on 0-1, divided by sqrt(192): written out again, independently."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    side = rgb.shape[0] // 8
    blocks = rgb.reshape(8, side, 8, side, 3).mean(axis=(1, 3))
    return blocks.ravel() / math.sqrt(192)


def test_no_two_unplanted_images_are_near_each_other(planted_tree):
    """Guards the planted seed: the only pairs within the threshold are the planted ones."""
    paths = sorted(planted_tree.glob("image/*/*.jpg"))
    vectors = np.stack([_tiny(p) for p in paths])
    names = [p.stem for p in paths]
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    planted_trio = {DUPLICATE_SOURCE, BYTE_TWIN, NEAR_TWIN}
    pairs = [(a, b) for i, a in enumerate(names) for j, b in enumerate(names)
             if i < j and not {a, b} <= planted_trio]
    assert min(distances[names.index(a), names.index(b)] for a, b in pairs) > 0.03


def test_near_duplicates_view_holds_the_byte_and_near_identical_images(planted, planted_tree):
    dataset, result = planted
    assert _members(dataset, "near-duplicates") == [DUPLICATE_SOURCE, BYTE_TWIN, NEAR_TWIN]
    assert result.signals.duplicate_groups == 1
    group, kind, distance = (_by_image(dataset, f) for f in ("duplicate_group", "duplicate_kind", "duplicate_distance"))
    assert {group[i] for i in (DUPLICATE_SOURCE, BYTE_TWIN, NEAR_TWIN)} == {DUPLICATE_SOURCE}
    assert (kind[DUPLICATE_SOURCE], kind[BYTE_TWIN], kind[NEAR_TWIN]) == ("byte-identical", "byte-identical",
                                                                         "near-identical")
    image = planted_tree / "image" / "anger"
    expected = float(np.linalg.norm(_tiny(image / f"{DUPLICATE_SOURCE}.jpg") - _tiny(image / f"{NEAR_TWIN}.jpg")))
    assert distance[BYTE_TWIN] == 0.0 and distance[NEAR_TWIN] == pytest.approx(expected, abs=1e-5)
    assert 0 < expected < 0.02
    hashes = _by_image(dataset, "file_sha256")
    assert hashes[DUPLICATE_SOURCE] == hashes[BYTE_TWIN] != hashes[NEAR_TWIN]
    uniqueness = _by_image(dataset, "uniqueness")
    assert all(0.0 <= u <= 1.0 for u in uniqueness.values()) and len(uniqueness) == 72
    assert uniqueness[BYTE_TWIN] < np.median(list(uniqueness.values()))


def test_instruction_flags_view_and_codes(planted):
    dataset, _ = planted
    expected = {WRONG_CATEGORICAL: ["categorical_mismatch"], LEAKY: ["leakage"], SHORT: ["length_outlier"],
                **{image_id: ["repeated_answer"] for image_id in REPEATED}}
    assert _members(dataset, "instruction-flags") == sorted(expected)
    flags = _by_image(dataset, "instruction_flags")
    assert {k: v for k, v in flags.items() if v} == expected
    issues = _by_image(dataset, "instruction_issues")
    assert issues[WRONG_CATEGORICAL] == [(f"{WRONG_CATEGORICAL}-categorical: categorical_mismatch: answer "
                                          "'Predict emotion: sadness', label 'fear'")]
    assert issues[LEAKY][0].endswith("leakage: answer 0 contains 'based on the description'")
    assert "answer of 1 words" in issues[SHORT][0]
    assert all("the same answer is given for 3 images" in issues[i][0] for i in REPEATED)


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    weights = {label: math.exp(value - top) for label, value in scores.items()}
    total = sum(weights.values())
    return {label: weight / total for label, weight in weights.items()}


def _mistakenness(scores: dict[str, float], correct: bool) -> float:
    """FiftyOne's documented formula, written out: (m * exp(-entropy) + 1) / 2, m = -1 if right else +1."""
    probabilities = list(_softmax(scores).values())
    entropy = -sum(p * math.log(p) for p in probabilities if p > 0)
    return ((-1.0 if correct else 1.0) * math.exp(-entropy) + 1.0) / 2.0


def test_predictions_are_classifications_with_confidence(planted, predictions_file):
    dataset, result = planted
    rows = [json.loads(line) for line in predictions_file.read_text().splitlines()]
    confident = _by_image(dataset, "pred_confident_model")
    for row in (r for r in rows if r["model"] == "confident-model"):
        label = confident[row["image_id"]]
        assert label.label == row["pred"]
        assert label.confidence == pytest.approx(_softmax(row["scores"])[row["pred"]], rel=1e-9)
        assert list(label.logits) == [row["scores"][e] for e in EMOTIONS]
    assert sum(v is not None for v in confident.values()) == 24
    generated = _by_image(dataset, "pred_generate_model")
    assert {k: (v.label, v.confidence) for k, v in generated.items() if v} == {
        "awe_00006": ("awe", None), "anger_00006": ("fear", None)}
    assert result.signals.models == ["confident-model"]


def test_likely_label_errors_view_and_mistakenness(planted, predictions_file):
    dataset, _ = planted
    assert _members(dataset, "likely-label-errors") == [CONFIDENTLY_WRONG]
    rows = {r["image_id"]: r for r in map(json.loads, predictions_file.read_text().splitlines())
            if r["model"] == "confident-model"}
    mistakenness = _by_image(dataset, "mistakenness_confident_model")
    for image_id, row in rows.items():
        expected = _mistakenness(row["scores"], correct=row["pred"] == row["gold"])
        assert mistakenness[image_id] == pytest.approx(expected, abs=1e-9), image_id
    assert sum(v is not None for v in mistakenness.values()) == 24
    assert mistakenness[CONFIDENTLY_WRONG] > 0.98 and 0.5 < mistakenness[UNSURE_WRONG] < 0.7
    assert _by_image(dataset, "label_error_models")[CONFIDENTLY_WRONG] == ["confident-model"]
    assert _by_image(dataset, "label_mistakenness")[CONFIDENTLY_WRONG] == mistakenness[CONFIDENTLY_WRONG]


def test_brain_runs_use_the_computed_embeddings(planted):
    dataset, _ = planted
    assert set(dataset.list_brain_runs()) == {"uniqueness", "embeddings", "mistakenness_confident_model"}
    visualization = dataset.load_brain_results("embeddings")
    assert visualization.config.method == "pca" and visualization.points.shape == (72, 2)
    info = dataset.info["emovit"]
    assert info["signals"]["embedding"] == "tiny-image-8x8-rgb/1" and info["signals"]["metric"] == "euclidean"
    assert info["load_config"]["name"] == "planted" and info["prediction_fields"] == {
        "confident-model": "pred_confident_model", "generate-model": "pred_generate_model"}
