"""``curate load --predictions``: a saved view per model and task holding the images that model got wrong, in real
FiftyOne with its real database."""

from __future__ import annotations

import json

from tests.curation.conftest import CONFIDENTLY_WRONG, UNSURE_WRONG


def _sample_ids(dataset, image_ids) -> set[str]:
    by_image = dict(zip(*dataset.values(["image_id", "id"])))
    return {by_image[i] for i in image_ids}


def test_each_model_and_task_gets_a_view_of_its_misclassified_images(planted):
    dataset, result = planted
    # Worked out from the planted predictions (tests/curation/conftest.py): confident-model is right on the 24
    # test images but two; generate-model answered three images: awe right, anger as fear, disgust unparsable.
    expected = {
        "misclassified-confident-model-emoset8": _sample_ids(dataset, [CONFIDENTLY_WRONG, UNSURE_WRONG]),
        "misclassified-generate-model-emoset8": _sample_ids(dataset, ["anger_00006", "disgust_00006"]),
    }
    assert set(expected) <= set(dataset.list_saved_views())
    for name, ids in expected.items():
        assert set(dataset.load_saved_view(name).values("id")) == ids, name
    assert result.signals.misclassified == {name: 2 for name in expected}
    info = dataset.get_saved_view_info("misclassified-generate-model-emoset8")
    assert info["description"] == ("images model 'generate-model' answered wrong (or not at all) on task 'emoset8': "
                                   "2 of 3 scored")


def test_names_from_any_model_and_task_strings_stay_distinct(planted, tmp_path):
    from fiftyone.core.utils import to_slug

    from builder.curation.predictions import read_model_predictions
    from builder.curation.views import save_misclassified_views
    from schemas.vocab import EMOTIONS

    source, _ = planted
    dataset = source.clone("hostile-names")
    try:
        # Model names whose plain forms share FiftyOne's slug ("a-b"), a path-like name, and one task name all
        # models share; each model misclassifies a different set of test images.
        wrong = {"A.b": ["awe_00006"], "a_b": ["awe_00007", "fear_00006"], "../x y": ["sadness_00008"],
                 "A_B": []}
        rows = []
        for model, misses in wrong.items():
            for emotion in ("awe", "fear", "sadness"):
                for index in (6, 7, 8):
                    image_id = f"{emotion}_{index:05d}"
                    pred = "anger" if image_id in misses else emotion
                    rows.append({"id": image_id, "image_id": image_id, "model": model, "task": "emo/set 8",
                                 "gold": emotion, "pred": pred, "raw": None, "scores": None})
        path = tmp_path / "predictions.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        loaded = read_model_predictions([path], EMOTIONS)
        saved = save_misclassified_views(dataset, loaded.models.values())
        assert len(saved) == 4 and len({to_slug(name) for name in saved}) == 4
        assert all(name.startswith("misclassified-") and "/" not in name for name in saved)
        described = {dataset.get_saved_view_info(name)["description"].split("'")[1]: name for name in saved}
        assert sorted(described) == sorted(wrong)
        for model, misses in wrong.items():
            view = dataset.load_saved_view(described[model])
            assert set(view.values("id")) == _sample_ids(dataset, misses), model
        assert saved[described["a_b"]] == 2 and saved[described["A_B"]] == 0
    finally:
        dataset.delete()
