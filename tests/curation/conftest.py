"""Real FiftyOne with its real ``mongod``, in a private database directory, on a synthetic build with planted
problems. One ``mongod`` of the session's own serves every test: CLI subprocesses and the App server reach it
through ``FIFTYONE_DATABASE_URI`` (see :func:`builder.curation.database.private_database`).

Planted cases (32 px synthetic tree, 3 images per class and split; ids ``<emotion>_0000{0..8}``, train 0-2,
val 3-5, test 6-8):

==========================  ====================================================================
``amusement_00000``         pixels darkened to ~15 %, annotation says brightness 0.9
``anger_00001``             the bytes (and pixel annotations) of ``anger_00000``
``anger_00002``             ``anger_00000`` re-encoded at JPEG quality 70, annotations recomputed
``fear_00000``              categorical answer ``Predict emotion: sadness`` (after the build)
``awe_00001``               a conversation answer with the leakage phrase "based on the description"
``contentment_00001``       a one-word reasoning answer
``excitement_00000/1``,     the same reasoning answer (excitement_00000's) for three images
``disgust_00001``
predictions                 ``confident-model`` (rank mode, test split): right and sure everywhere, but
                            sure that ``sadness_00006`` is amusement, and unsure that ``fear_00007`` is
                            sadness; ``generate-model`` (generate mode, no scores) on three images
==========================  ====================================================================
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builder.dataset.build import BuildConfig, build_dataset
from builder.sources.synth import SynthConfig, synthesise
from schemas.vocab import EMOTIONS

DARK = "amusement_00000"
DUPLICATE_SOURCE, BYTE_TWIN, NEAR_TWIN = "anger_00000", "anger_00001", "anger_00002"
WRONG_CATEGORICAL = "fear_00000"
LEAKY = "awe_00001"
SHORT = "contentment_00001"
REPEATED = ("excitement_00000", "excitement_00001", "disgust_00001")
CONFIDENTLY_WRONG = "sadness_00006"
UNSURE_WRONG = "fear_00007"
LEAKAGE_TEXT = " This is based on the description."
#: Seed of the planted tree: with it no two unplanted images are within 0.03 of each other (tiny-image distance;
#: dim synthetic images of one class can be that close by chance), which test_signals checks independently.
PLANTED_SEED = 12


def _paths(root: Path, image_id: str) -> tuple[Path, Path]:
    emotion = image_id.rsplit("_", 1)[0]
    return root / "image" / emotion / f"{image_id}.jpg", root / "annotation" / emotion / f"{image_id}.json"


def quantised(value: float) -> float:
    """Half-up rounding onto the 0.1 grid, written out independently of builder.sources.pixels."""
    return float(np.floor(value * 10 + 0.5) / 10)


def mean_hsv_value(path: Path) -> float:
    """Mean over pixels of max(R, G, B) / 255, computed here from the JPEG (independent of builder.sources.pixels)."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    return float(rgb.max(axis=2).mean() / 255.0)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _plant_tree(root: Path) -> None:
    from builder.sources.pixels import pixel_attributes

    image, annotation = _paths(root, DARK)
    with Image.open(image) as opened:
        dark = (np.asarray(opened.convert("RGB"), dtype=np.float64) * 0.15).astype(np.uint8)
    image.write_bytes(_jpeg(Image.fromarray(dark), 90))
    document = json.loads(annotation.read_text())
    document["brightness"] = 0.9
    document["colorfulness"] = pixel_attributes(image).colorfulness
    annotation.write_text(json.dumps(document))

    source_image, source_annotation = _paths(root, DUPLICATE_SOURCE)
    levels = json.loads(source_annotation.read_text())
    twin_image, twin_annotation = _paths(root, BYTE_TWIN)
    twin_image.write_bytes(source_image.read_bytes())
    document = json.loads(twin_annotation.read_text())
    document.update(brightness=levels["brightness"], colorfulness=levels["colorfulness"])
    twin_annotation.write_text(json.dumps(document))

    near_image, near_annotation = _paths(root, NEAR_TWIN)
    with Image.open(source_image) as opened:
        near_image.write_bytes(_jpeg(opened.convert("RGB"), 70))
    measured = pixel_attributes(near_image)
    document = json.loads(near_annotation.read_text())
    document.update(brightness=measured.brightness, colorfulness=measured.colorfulness)
    near_annotation.write_text(json.dumps(document))


def _plant_instructions(build: Path, out: Path) -> None:
    """Rewrite some instructions of a finished build the way a faulty generator might have written them."""
    import datasets

    built = datasets.load_from_disk(str(build))
    repeated_answer = next(row["conversations"][1]["value"] for row in built["train"]
                           if row["image_id"] == REPEATED[0] and row["kind"] == "reasoning")
    leaked = set()

    def plant(row):
        turns = [dict(turn) for turn in row["conversations"]]
        if row["image_id"] == WRONG_CATEGORICAL and row["kind"] == "categorical":
            turns[1]["value"] = "Predict emotion: sadness"
        elif row["image_id"] == LEAKY and row["kind"] == "conversation" and LEAKY not in leaked:
            leaked.add(LEAKY)
            turns[1]["value"] += LEAKAGE_TEXT
        elif row["image_id"] == SHORT and row["kind"] == "reasoning":
            turns[1]["value"] = "Calm."
        elif row["image_id"] in REPEATED and row["kind"] == "reasoning":
            turns[1]["value"] = repeated_answer
        return {"conversations": turns}

    planted = datasets.DatasetDict({split: data.map(plant) for split, data in built.items()})
    planted.save_to_disk(str(out))
    for name in ("report.json", "build_config.json"):
        shutil.copy(build / name, out / name)


def _prediction_rows() -> list[dict]:
    rows = []
    for emotion in EMOTIONS:
        for number in (6, 7, 8):
            image_id = f"{emotion}_{number:05d}"
            pred, scores = emotion, {label: -8.0 for label in EMOTIONS}
            scores[emotion] = 0.0
            if image_id == CONFIDENTLY_WRONG:
                pred = "amusement"
                scores = {label: -8.0 for label in EMOTIONS} | {"amusement": 0.0}
            elif image_id == UNSURE_WRONG:
                pred = "sadness"
                scores = {label: -1.0 for label in EMOTIONS} | {"sadness": -0.8}
            rows.append({"id": image_id, "image_id": image_id, "model": "confident-model", "task": "emoset8",
                         "gold": emotion, "pred": pred, "raw": None, "scores": scores})
    for image_id, pred in (("awe_00006", "awe"), ("anger_00006", "fear"), ("disgust_00006", None)):
        rows.append({"id": image_id, "image_id": image_id, "model": "generate-model", "task": "emoset8",
                     "gold": image_id.rsplit("_", 1)[0], "pred": pred, "raw": f"Predict emotion: {pred}",
                     "scores": None})
    return rows


@pytest.fixture(scope="session")
def fiftyone_db(tmp_path_factory):
    """FiftyOne connected to a private database directory (its own ``mongod``), for the whole session."""
    import importlib.util

    if importlib.util.find_spec("fiftyone") is None:  # not imported here: the private settings come first
        pytest.fail("FiftyOne is not installed: the README's test command installs the 'curation' extra")
    from builder.curation.database import private_database

    base = tmp_path_factory.mktemp("fiftyone")
    with private_database(base) as fo:
        from builder.curation.database import serving_directory

        assert serving_directory() == str(base / "db")
        yield fo


@pytest.fixture(scope="session")
def planted_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted") / "emoset"
    synthesise(root, SynthConfig(per_class=3, seed=PLANTED_SEED, splits=("train", "val", "test"), image_size=32),
               progress=False)
    _plant_tree(root)
    return root


@pytest.fixture(scope="session")
def planted_build(planted_tree, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("planted_build")
    build_dataset(BuildConfig(emoset_root=str(planted_tree), config="all"), base / "clean", cache_dir=base / "cache",
                  progress=False, plots=False)
    _plant_instructions(base / "clean", base / "build")
    return base / "build"


@pytest.fixture(scope="session")
def predictions_file(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("bench_run")
    path = run / "predictions.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in _prediction_rows()))
    return path


@pytest.fixture(scope="session")
def planted(fiftyone_db, planted_build, predictions_file, tmp_path_factory):
    """The planted build loaded as dataset ``planted`` with every signal; ``(dataset, CurateResult)``."""
    from builder.curation.pipeline import CurateConfig, curate

    media = tmp_path_factory.mktemp("media")
    result = curate(CurateConfig(name="planted", build=str(planted_build), predictions=(str(predictions_file.parent),),
                                 media_dir=str(media)), progress=False)
    return fiftyone_db.load_dataset("planted"), result
