"""``emovit train`` on two processes (torchrun, gloo on CPU): one data-parallel run, not two copies.

Checked from the outside: steps per epoch halve (each process takes half of every batch), the log and the
checkpoint are written by rank 0 alone, validation scores every validation image exactly once across the
ranks (15 images on 2 processes: no row repeated by padding), and the reported accuracy is what the standalone
scorer gives on the saved adapter. The same for LLaVA fine-tuning (``llava-ft``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVAL_IMAGES = 15  # odd on purpose: two ranks get 8 and 7


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory) -> Path:
    from emovit_model.zoo import build_tiny

    return build_tiny("llava", tmp_path_factory.mktemp("zoo_llava") / "llava", seed=0)


def _train_two_processes(dataset: Path, base: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nproc-per-node", "2", "-m", "builder.cli", "train", "--dataset", str(dataset),
               "--base", str(base), "--out", str(out), "--epochs", "1", "--batch-size", "4", "--eval-batch-size", "4",
               "--eval-limit", str(EVAL_IMAGES), "--warmup-steps", "0", "--logging-steps", "1", "--quiet", *extra]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)


def _first_val_images(dataset: Path, limit: int) -> list[dict]:
    """The first ``limit`` distinct validation images in split order, read straight from the build."""
    import datasets

    val = datasets.load_from_disk(str(dataset))["val"]
    names = val.features["emotion"].names
    seen, rows = set(), []
    for row in val:
        if row["image_id"] not in seen:
            seen.add(row["image_id"])
            rows.append({"image_id": row["image_id"], "gold": names[row["emotion"]], "image": row["image"]})
        if len(rows) == limit:
            break
    return rows


def _check_run(result, dataset: Path, out: Path) -> None:
    from emovit_model.scoring import EmotionClassifier

    assert result.returncode == 0, result.stderr[-4000:]
    run_config = json.loads((out / "run_config.json").read_text())
    assert run_config["world_size"] == 2 and run_config["rows"]["train"] == 32
    metrics = json.loads((out / "metrics.json").read_text())
    # 32 training rows, 4 per process and step, 2 processes: 4 steps (one process alone would take 8)
    assert [epoch["step"] for epoch in metrics["epochs"]] == [4]
    # rank 0 alone logs, checkpoints and publishes the adapter
    assert result.stdout.count("train_runtime") == 1 and result.stdout.count("adapter -> ") == 1
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-4"]
    assert (out / "adapter" / "adapter.safetensors").is_file()

    # every validation image exactly once, in split order, whatever rank scored it
    expected = _first_val_images(dataset, EVAL_IMAGES)
    lines = [json.loads(line) for line in (out / "eval" / "epoch-1.jsonl").read_text().splitlines()]
    assert [line["image_id"] for line in lines] == [row["image_id"] for row in expected]
    assert [line["gold"] for line in lines] == [row["gold"] for row in expected]
    assert metrics["epochs"][-1]["eval_samples"] == EVAL_IMAGES

    # the accuracy the run reports is the standalone scorer's on the saved adapter
    classifier = EmotionClassifier.from_pretrained(out / "adapter", device="cpu")
    predicted = classifier.predict([row["image"] for row in expected])
    assert predicted == [line["pred"] for line in lines]
    accuracy = sum(p == row["gold"] for p, row in zip(predicted, expected)) / EVAL_IMAGES
    assert metrics["final_eval_accuracy"] == pytest.approx(accuracy, abs=1e-12)


@pytest.mark.slow
def test_emovit_trains_data_parallel_on_two_processes(small_dataset, tiny_instructblip, tmp_path):
    out = tmp_path / "run"
    _check_run(_train_two_processes(small_dataset, tiny_instructblip, out, "--lr", "1e-3"), small_dataset, out)


@pytest.mark.slow
def test_llava_ft_trains_data_parallel_on_two_processes(small_dataset, tiny_llava, tmp_path):
    out = tmp_path / "run"
    result = _train_two_processes(small_dataset, tiny_llava, out, "--lr", "5e-3")
    _check_run(result, small_dataset, out)
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["tuning"] == "lora"
