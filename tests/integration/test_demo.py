import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.demo import DISCLAIMER, DemoConfig, run_demo

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ("instructblip", "llava", "vlm", "clip")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    return out, run_demo(out, DemoConfig(per_class=16, epochs=10, llava_epochs=2))


@pytest.mark.slow
def test_demo_runs_every_stage_offline(demo):
    out, summary = demo
    assert summary["validate"] == {"inputs": 384, "kept": 384, "quarantined": 0}
    for split in ("train", "val", "test"):
        assert summary["build"][split]["images"] == 128
        assert summary["build"][split]["per_kind"]["categorical"] == 128
    assert (out / "hub" / "README.md").is_file() and (out / "llava" / "train.json").is_file()
    metrics = json.loads((out / "emovit" / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 10
    assert all(Path(path).exists() for path in summary["where"].values()), summary["where"]
    assert set(summary["where"]) >= {"llava_export", "emovit_adapter", "llava_ft_adapter", "plots", "leaderboard"}
    assert json.loads((out / "demo_summary.json").read_text()) == json.loads(json.dumps(summary))


@pytest.mark.slow
def test_demo_leaderboard_shows_emovit_learnt_significantly(demo):
    """Tiny EmoVIT beats chance (CI above 1/8) and each untrained zero-shot baseline (exact McNemar p < 0.05),
    every figure checked against the predictions with SciPy."""
    from scipy.stats import binomtest

    out, summary = demo
    rows = {(r["task"], r["model"]): r for r in summary["leaderboard"]}
    assert {model for _, model in rows} == {"emovit", "instructblip", "llava", "llava-ft", "vlm", "clip"}
    assert {task for task, _ in rows} == {"emoset8", "emoset2", "emotion6"}
    emovit = rows[("emoset8", "emovit")]
    assert emovit["n"] == 128 and emovit["accuracy_ci"][0] > 0.125

    def correct(model):
        lines = (out / "bench" / "runs" / model / "emoset8" / "predictions.jsonl").read_text().splitlines()
        return {r["id"]: r["pred"] == r["gold"] for r in map(json.loads, lines)}

    mine = correct("emovit")
    assert emovit["accuracy"] == sum(mine.values()) / 128
    for baseline in BASELINES:
        theirs = correct(baseline)
        assert rows[("emoset8", baseline)]["accuracy"] < emovit["accuracy"]
        only_mine = sum(mine[i] and not theirs[i] for i in mine)
        only_theirs = sum(theirs[i] and not mine[i] for i in mine)
        p_value = binomtest(min(only_mine, only_theirs), only_mine + only_theirs, 0.5).pvalue
        assert emovit["mcnemar"][baseline] == pytest.approx(p_value) and p_value < 0.05
    board = (out / "bench" / "leaderboard" / "leaderboard.md").read_text()
    assert "McNemar p vs emovit" in board
    plots = sorted(p.name for p in (out / "bench" / "leaderboard" / "plots").glob("*.png"))
    assert "accuracy-emoset8.png" in plots and "confusion-emoset8-emovit.png" in plots
    # per task: accuracy, F1, a confusion matrix and a reliability diagram per model (all rank mode)
    assert len(plots) == 3 * (2 + 6 + 6) and "reliability-emotion6-clip.png" in plots


@pytest.mark.slow
def test_demo_page_shows_ties_reliability_diagrams_and_the_domain_table(demo):
    """The held-out Emotion6-layout tree makes the in- vs out-of-domain table: each model's drop is its
    emoset8 accuracy minus its emotion6 accuracy (one held-out task: both means are that accuracy)."""
    out, summary = demo
    board = out / "bench" / "leaderboard"
    rows = {(r["task"], r["model"]): r for r in json.loads((board / "leaderboard.json").read_text())}
    tasks = json.loads((board / "leaderboard_tasks.json").read_text())
    domains = tasks["domains"]
    assert domains["in_domain"] == ["emoset8", "emoset2"] and domains["out_of_domain"] == ["emotion6"]
    for model, entry in domains["models"].items():
        inside, outside = rows[("emoset8", model)], rows[("emotion6", model)]
        assert outside["n"] == 6 * 8
        assert entry["ood_mean"] == entry["ood_weighted_mean"] == outside["accuracy"]
        assert entry["drop"] == pytest.approx(inside["accuracy"] - outside["accuracy"])
    page = (board / "index.html").read_text()
    assert page.count('<table class="ties small">') == 3 and '<section id="domains">' in page
    assert page.count('<figure class="card reliability"') == 3 * 6
    for task in ("emoset8", "emoset2", "emotion6"):
        tied = tasks["tasks"][task]["ties"]["tied_with_best"]
        assert tied[0] == next(r["model"] for r in summary["leaderboard"] if r["task"] == task and r["rank"] == 1)
        assert all(rows[(task, model)]["rank"] == 1 for model in tied)


def test_demo_help_shows_defaults_and_says_what_it_tests():
    result = subprocess.run([sys.executable, "-m", "builder.cli", "demo", "--help"], capture_output=True, text=True,
                            cwd=ROOT, check=False)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "(default: 64)" in text and "(default: 8.0)" in text and "(default: 6.0)" in text
    assert " ".join(DISCLAIMER.split()) in text
