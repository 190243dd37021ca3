import json

import pytest

from benchmarks.demo import DemoConfig, run_demo


@pytest.mark.slow
def test_demo_runs_every_stage_offline(tmp_path):
    summary = run_demo(tmp_path / "demo", DemoConfig(per_class=4, epochs=1, batch_size=16))
    out = tmp_path / "demo"
    assert summary["validate"] == {"inputs": 96, "kept": 96, "quarantined": 0}
    for split in ("train", "val", "test"):
        assert summary["build"][split]["images"] == 32
        assert summary["build"][split]["per_kind"]["categorical"] == 32
    assert (out / "hub" / "README.md").is_file() and (out / "llava" / "train.json").is_file()
    assert (out / "emovit" / "adapter").is_dir()
    metrics = json.loads((out / "emovit" / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 1
    scores = summary["scores"]
    assert set(scores) == {"tiny InstructBLIP (base)", "EmoVIT (tiny, trained)"}
    assert all(score["samples"] == 32 and 0.0 <= score["accuracy"] <= 1.0 for score in scores.values())
    assert json.loads((out / "demo_summary.json").read_text()) == json.loads(json.dumps(summary))
