"""A raw tree through ``emovit curate load --emoset-root``, the embeddings, the vision-encoder option, and the
CLI's one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from builder.curation.embeddings import tiny_image, vision_encoder_embeddings
from schemas.errors import UsageError
from tests.curation.conftest import BYTE_TWIN, DARK, DUPLICATE_SOURCE, NEAR_TWIN


def rms_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two tiny images: the thumbnails' RMS difference on a 0-1 scale."""
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


def emovit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, timeout=300, check=False)


def _members(dataset, view):
    return sorted(dataset.load_saved_view(view).values("image_id"))


def test_tiny_image_is_the_area_mean_on_a_0_1_scale():
    flat = Image.new("RGB", (13, 17), (40, 120, 200))  # sizes that do not divide by 8
    vector = tiny_image(flat)
    assert vector.shape == (192,) and vector.dtype == np.float32
    expected = np.tile(np.array([40, 120, 200]) / 255.0, 64) / np.sqrt(192)
    assert np.allclose(vector, expected, atol=1e-7)
    brighter = Image.new("RGB", (13, 17), (46, 126, 206))
    assert rms_distance(vector, tiny_image(brighter)) == pytest.approx(6 / 255, abs=1e-6)


def test_a_jpeg_re_encode_stays_within_the_threshold_and_other_images_do_not(planted_tree):
    original = Image.open(planted_tree / "image" / "awe" / "awe_00004.jpg").convert("RGB")
    buffer = io.BytesIO()
    original.save(buffer, format="JPEG", quality=60)
    re_encoded = Image.open(io.BytesIO(buffer.getvalue()))
    assert rms_distance(tiny_image(original), tiny_image(re_encoded)) < 0.02
    other = Image.open(planted_tree / "image" / "awe" / "awe_00005.jpg")
    assert rms_distance(tiny_image(original), tiny_image(other)) > 0.03


@pytest.fixture(scope="module")
def tiny_instructblip(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    return build_tiny("instructblip", tmp_path_factory.mktemp("zoo") / "instructblip", seed=0)


def test_vision_encoder_embeddings_match_the_full_model(tiny_instructblip, planted_tree):
    import torch
    import transformers

    paths = [str(p) for p in sorted(planted_tree.glob("image/awe/*.jpg"))[:3]]
    embeddings = vision_encoder_embeddings(paths, tiny_instructblip, batch_size=2, progress=False)
    model = transformers.InstructBlipForConditionalGeneration.from_pretrained(str(tiny_instructblip)).eval()
    processor = transformers.AutoProcessor.from_pretrained(str(tiny_instructblip))
    pixels = processor.image_processor(images=[Image.open(p).convert("RGB") for p in paths],
                                       return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        pooled = model.vision_model(pixel_values=pixels).pooler_output.numpy()
    expected = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert embeddings.shape == (3, model.config.vision_config.hidden_size)
    assert np.allclose(embeddings, expected, atol=1e-5)


def test_an_adapter_directory_is_refused(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(UsageError, match="adapter holds no vision weights"):
        vision_encoder_embeddings([], tmp_path, progress=False)


@pytest.fixture(scope="module")
def raw_tree_dataset(fiftyone_db, planted_tree):
    result = emovit("curate", "load", "--emoset-root", str(planted_tree), "--name", "rawtree", "--quiet",
                    "--no-visualization")
    assert result.returncode == 0, result.stderr
    return fiftyone_db.load_dataset("rawtree"), result


def test_a_raw_tree_loads_with_pixel_and_duplicate_signals(raw_tree_dataset, planted_tree):
    dataset, result = raw_tree_dataset
    assert "dataset 'rawtree': 72 images (72 added" in result.stdout
    assert len(dataset) == 72
    sample = dataset.match({"image_id": "awe_00004"}).first()
    assert sample.caption is None and sample.instructions_conversation == [] and sample.sample_ids == []
    assert sample.build_fingerprint is None and sample.generator is None
    assert sample.filepath == str((planted_tree / "image" / "awe" / "awe_00004.jpg").resolve())
    assert _members(dataset, "pixel-mismatch") == [DARK]
    assert _members(dataset, "near-duplicates") == [DUPLICATE_SOURCE, BYTE_TWIN, NEAR_TWIN]
    assert _members(dataset, "instruction-flags") == [] and _members(dataset, "likely-label-errors") == []
    assert "embeddings" not in dataset.list_brain_runs()  # --no-visualization


def test_vision_encoder_signals_on_a_loaded_dataset(raw_tree_dataset, tiny_instructblip):
    from builder.curation.signals import SignalConfig, compute_signals

    dataset, _ = raw_tree_dataset
    summary = compute_signals(dataset, SignalConfig(embeddings_model=str(tiny_instructblip),
                                                    duplicate_threshold=1e-4), progress=False)
    assert dataset.info["emovit"]["signals"]["embedding"] == str(tiny_instructblip)
    members = _members(dataset, "near-duplicates")
    assert {DUPLICATE_SOURCE, BYTE_TWIN} <= set(members)  # identical bytes, identical features
    assert summary.pixel_mismatch == 1
    assert dataset.load_brain_results("embeddings").points.shape == (72, 2)


def test_conflicting_tags_stop_the_export_with_one_line(raw_tree_dataset, tmp_path):
    dataset, _ = raw_tree_dataset
    dataset.match({"image_id": DARK}).tag_samples(["exclude", "relabel:fear"])
    result = emovit("curate", "decisions", "--name", "rawtree", "--out", str(tmp_path / "d.json"))
    assert result.returncode == 2 and not (tmp_path / "d.json").exists()
    lines = result.stderr.strip().splitlines()
    assert lines == [(f"emovit curate: error: conflicting curation tags; fix them in the App: {DARK}: tagged both "
                      "'exclude' and 'relabel:fear'")]


@pytest.mark.parametrize(("args", "needle"), [
    (["decisions", "--name", "no-such-dataset", "--out", "x.json"], "no FiftyOne dataset named 'no-such-dataset'"),
    (["app", "--name", "no-such-dataset"], "no FiftyOne dataset named 'no-such-dataset'"),
    (["load", "--dataset", "{tmp}", "--name", "x"], "not a build directory (no dataset_dict.json)"),
    (["load", "--dataset", "{tmp}", "--name", "x", "--predictions", "p.jsonl", "--no-signals"],
     "--predictions are applied with the signals"),
])
def test_unusable_input_is_one_line_and_exit_code_2(fiftyone_db, tmp_path, args, needle):
    result = emovit("curate", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr


def test_the_private_database_directory_is_used(fiftyone_db):
    from pathlib import Path

    from builder.curation.database import serving_directory

    directory = Path(serving_directory())
    assert (directory / "WiredTiger").is_file() and directory.parent.name.startswith("fiftyone")
    assert fiftyone_db.config.database_uri.startswith("mongodb://127.0.0.1:")
