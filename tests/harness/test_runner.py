"""``emovit bench run``: run directories, provenance, caching, changed tasks, training entries, rank shards."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmarks.config import load_config
from benchmarks.runner import Processes, run_bench
from schemas.predictions import read_predictions
from schemas.protocol import ALPHABETICAL_EMOTIONS

ROOT = Path(__file__).resolve().parents[2]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, zoo, bench_build):
    """instructblip (rank) and clip on every build task; run once, then once more from the cache."""
    from tests.harness.conftest import write_config

    root = tmp_path_factory.mktemp("full_run")
    path = write_config(root / "config.yaml", {
        "name": "full", "out": str(root / "out"), "data": {"build": str(bench_build)},
        "tasks": ["emoset8", "emoset2", "sensitivity", "reasoning"], "batch_size": 8, "progress": False,
        "models": [{"name": "instructblip", "adapter": "instructblip", "path": str(zoo["instructblip"])},
                   {"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}]})
    first = run_bench(load_config(path))
    snapshot = {p: p.read_bytes() for p in (root / "out" / "runs").rglob("predictions.jsonl")}
    second = run_bench(load_config(path))
    return root, first, second, snapshot


def test_every_model_and_task_has_a_run_directory(full_run, bench_build):
    import datasets

    root, first, _, _ = full_run
    runs = root / "out" / "runs"
    assert sorted(str(p.relative_to(runs)) for p in runs.glob("*/*")) == sorted(
        f"{m}/{t}" for m in ("clip", "instructblip") for t in ("emoset2", "emoset8", "reasoning", "sensitivity"))
    test = datasets.load_from_disk(str(bench_build))["test"]
    images = sorted(set(test["image_id"]))
    reasoning_rows = [row for row in test if row["kind"] == "reasoning"]
    expected = {"emoset8": len(images), "emoset2": len(images), "sensitivity": 4 * len(images),
                "reasoning": len(reasoning_rows)}
    names = test.features["emotion"].names
    gold_by_image = {row["image_id"]: names[row["emotion"]] for row in test}
    for model in ("clip", "instructblip"):
        for task, count in expected.items():
            path = runs / model / task / "predictions.jsonl"
            labels = ("positive", "negative") if task == "emoset2" else ALPHABETICAL_EMOTIONS
            loaded = read_predictions(path, labels)
            assert loaded.rejected == {} and len(loaded.rows) == count, (model, task)
            rows = _lines(path)
            assert {r["model"] for r in rows} == {model} and {r["task"] for r in rows} == {task}
            if task in ("emoset8", "sensitivity"):
                assert all(r["gold"] == gold_by_image[r["image_id"]] for r in rows)
            assert not (runs / model / task / "shards").exists()
    emoset8 = _lines(runs / "instructblip" / "emoset8" / "predictions.jsonl")
    assert [r["id"] for r in emoset8] == list(dict.fromkeys(test["image_id"]))  # one per image, in split order
    assert all(r["raw"] is None and r["pred"] == max(r["scores"], key=r["scores"].get) for r in emoset8)
    polarity = {e: "positive" if e in ("amusement", "awe", "contentment", "excitement") else "negative"
                for e in ALPHABETICAL_EMOTIONS}
    emoset2 = _lines(runs / "instructblip" / "emoset2" / "predictions.jsonl")
    assert [(r["id"], r["gold"], r["pred"]) for r in emoset2] == [
        (r["id"], polarity[r["gold"]], polarity[r["pred"]]) for r in emoset8]
    sensitivity = _lines(runs / "instructblip" / "sensitivity" / "predictions.jsonl")
    assert sorted({r["variant"] for r in sensitivity}) == ["classify", "original", "viewer", "which"]
    original = [r for r in sensitivity if r["variant"] == "original"]
    assert [r["scores"] for r in original] == pytest.approx([r["scores"] for r in emoset8], abs=1e-4)
    reasoning = _lines(runs / "instructblip" / "reasoning" / "predictions.jsonl")
    assert [r["id"] for r in reasoning] == [r["id"] for r in reasoning_rows]
    assert all(r["scores"] is None and isinstance(r["raw"], str) for r in reasoning)  # generation only


def test_config_json_records_provenance(full_run, bench_build):
    root, _, _, _ = full_run
    config = json.loads((root / "out" / "runs" / "clip" / "emoset8" / "config.json").read_text())
    task_file = (ROOT / "benchmarks" / "tasks" / "emoset8.yaml").read_bytes()
    assert config["task_hash"] == hashlib.sha256(task_file).hexdigest() == config["task"]["hash"]
    state = json.loads((bench_build / "test" / "state.json").read_text())
    assert config["dataset"]["path"] == str(bench_build) and config["dataset"]["split"] == "test"
    assert len(config["dataset"]["fingerprint"]) == 16 and state["_fingerprint"]
    assert {"torch", "transformers", "datasets"} <= set(config["versions"])
    assert config["versions"]["torch"].startswith("2.")
    assert config["device"] == "cpu" and config["dtype"] == "float32" and config["mode"] == "rank"
    assert config["git_commit"] is None or len(config["git_commit"]) == 40
    assert config["model"]["adapter"] == "clip" and len(config["run_key"]) == 16
    assert config["samples"] == 32


def test_metrics_are_those_of_the_predictions(full_run):
    from sklearn.metrics import accuracy_score, f1_score

    root, first, _, _ = full_run
    run = root / "out" / "runs" / "instructblip" / "emoset8"
    rows = _lines(run / "predictions.jsonl")
    metrics = json.loads((run / "metrics.json").read_text())
    gold, pred = [r["gold"] for r in rows], [r["pred"] or "-" for r in rows]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    used = [label for label in ALPHABETICAL_EMOTIONS if label in set(gold) | set(pred)]
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=used, average="macro"))
    board = {(r["model"], r["task"]): r for r in first.leaderboard}
    assert board[("instructblip", "emoset8")]["accuracy_ci"] == metrics["accuracy_ci"]


def test_a_second_run_scores_nothing(full_run):
    root, _, second, snapshot = full_run
    assert all("cached" in line or line.startswith("leaderboard") for line in second.log), second.log
    for path, data in snapshot.items():
        assert path.read_bytes() == data
        assert len((path.parent / "run_log.jsonl").read_text().splitlines()) == 1


def test_leaderboard_rebuilt_from_saved_runs_equals_the_runs_own(full_run, tmp_path):
    root, first, _, _ = full_run
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "leaderboard", "--runs",
                             str(root / "out" / "runs"), "--out", str(tmp_path / "board")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    written = json.loads((root / "out" / "leaderboard" / "leaderboard.json").read_text())
    rebuilt = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert rebuilt == written and len(rebuilt) == 8
    assert (tmp_path / "board" / "leaderboard.csv").read_text() == \
        (root / "out" / "leaderboard" / "leaderboard.csv").read_text()


def test_a_changed_task_file_does_not_reuse_old_results(small_config, tmp_path):
    task = tmp_path / "mytask.yaml"
    task.write_bytes((ROOT / "benchmarks" / "tasks" / "emoset8.yaml").read_bytes().replace(
        b"name: emoset8", b"name: mytask"))
    config = small_config(tasks=[str(task)], models=small_config.__defaults__ or None) if False else None
    path = small_config(tasks=[str(task)])
    run_bench(load_config(path))
    run_dir = tmp_path / "out" / "runs" / "clip" / "mytask"
    old = json.loads((run_dir / "config.json").read_text())
    task.write_bytes(task.read_bytes() + b"# an edit: the same questions, another file\n")
    second = run_bench(load_config(path))
    new = json.loads((run_dir / "config.json").read_text())
    assert new["task_hash"] == hashlib.sha256(task.read_bytes()).hexdigest() != old["task_hash"]
    assert new["run_key"] != old["run_key"]
    assert (run_dir / f"predictions.jsonl.stale-{old['run_key']}").is_file()
    sessions = _lines(run_dir / "run_log.jsonl")
    assert [s["already"] for s in sessions] == [0, 0] and [s["scored"] for s in sessions] == [32, 32]
    assert any("task file, model or data changed" in line for line in second.log)
    assert config is None


def test_a_model_entry_trains_first_and_reuses_its_training(tmp_path, zoo, bench_build):
    from tests.harness.conftest import write_config

    entry = {"name": "emovit", "adapter": "emovit", "base": str(zoo["instructblip"]),
             "train": {"kinds": ["categorical"], "max_steps": 2, "batch_size": 8, "lr": 1e-3, "warmup_steps": 0,
                       "eval_limit": 8, "train_fraction": 0.5, "seed": 3}}
    path = write_config(tmp_path / "c.yaml", {"out": str(tmp_path / "out"), "data": {"build": str(bench_build)},
                                              "tasks": ["emoset8"], "progress": False, "models": [entry]})
    first = run_bench(load_config(path))
    trained = json.loads((tmp_path / "out" / "_train" / "emovit" / "run_config.json").read_text())
    assert trained["config"]["train_fraction"] == 0.5 and trained["config"]["base"] == str(zoo["instructblip"])
    assert trained["rows"]["train"] == 16  # half of the 4 images per emotion, one categorical row each
    config = json.loads((tmp_path / "out" / "runs" / "emovit" / "emoset8" / "config.json").read_text())
    assert config["training"]["config"]["seed"] == 3
    assert config["model"]["reference"] == str(tmp_path / "out" / "_train" / "emovit" / "adapter")
    assert first.leaderboard[0]["train_fraction"] == 0.5
    again = run_bench(load_config(path))
    assert again.log[0] == f"emovit: training cached ({tmp_path / 'out' / '_train' / 'emovit' / 'adapter'})"
    retrained = run_bench(load_config(path, ["models.emovit.train.seed=4"]))
    assert any(line.startswith("emovit: training emovit") for line in retrained.log)
    assert any("run key" in line for line in retrained.log)  # a new adapter: its predictions are redone


def test_ranks_split_the_samples_and_the_main_process_merges_their_shards(small_config, tmp_path, monkeypatch):
    """Two processes (threads standing in for ``accelerate launch`` ranks) give the single-process result."""
    import benchmarks.runner as runner

    path = small_config(tasks=["emoset8", "emoset2"], batch_size=4)
    single = load_config(path, [f"out={tmp_path / 'single'}"])
    run_bench(single)
    barrier = threading.Barrier(2)
    local = threading.local()
    monkeypatch.setattr(runner, "processes", lambda device: local.procs)
    errors = []

    def rank(index: int) -> None:
        local.procs = Processes(index, 2, __import__("torch").device("cpu"), barrier.wait)
        try:
            run_bench(load_config(path, [f"out={tmp_path / 'ranks'}"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=rank, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for model in ("instructblip", "clip"):
        for task in ("emoset8", "emoset2"):
            one = _lines(tmp_path / "single" / "runs" / model / task / "predictions.jsonl")
            two = _lines(tmp_path / "ranks" / "runs" / model / task / "predictions.jsonl")
            assert [(r["id"], r["pred"]) for r in one] == [(r["id"], r["pred"]) for r in two]
            assert [r["scores"] for r in two] == pytest.approx([r["scores"] for r in one], abs=1e-4)
            assert not (tmp_path / "ranks" / "runs" / model / task / "shards").exists()
    log = _lines(tmp_path / "ranks" / "runs" / "clip" / "emoset8" / "run_log.jsonl")
    assert log[0]["world_size"] == 2 and log[0]["scored"] == 32


def test_usage_errors_are_one_line(small_config, tmp_path):
    path = small_config(tasks=["folder"])
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "run", "--config", str(path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "emovit bench: error: task folder needs data.folder (<root>/<class>/*.jpg) or data.folder_synth"]
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "run", "--config", "nope"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "unknown config 'nope'" in result.stderr and "Traceback" not in result.stderr
