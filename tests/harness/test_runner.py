"""``emovit bench run``: run directories, provenance, caching, changed tasks, training entries, rank shards."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli import run_and_rank
from benchmarks.run.runner import run_bench
from benchmarks.spec.config import load_config
from schemas.predictions import read_predictions
from schemas.protocol import ALPHABETICAL_EMOTIONS

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, document: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, zoo, bench_build):
    """instructblip (rank) and clip on every build task; run once, then once more from the cache."""
    root = tmp_path_factory.mktemp("full_run")
    path = write_config(root / "config.yaml", {
        "name": "full", "out": str(root / "out"), "data": {"build": str(bench_build)},
        "tasks": ["emoset8", "emoset2", "sensitivity", "reasoning"], "batch_size": 8, "progress": False,
        "models": [{"name": "instructblip", "adapter": "instructblip", "path": str(zoo["instructblip"])},
                   {"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}]})
    _, board = run_and_rank(load_config(path))  # as 'emovit bench run' does: the runs, then the leaderboard
    snapshot = {p: p.read_bytes() for p in (root / "out" / "runs").rglob("predictions.jsonl")}
    second, _ = run_and_rank(load_config(path))
    return root, board, second, snapshot


def test_every_model_and_task_has_a_run_directory(full_run, bench_build):
    import datasets

    root, _, _, _ = full_run
    runs = root / "out" / "runs"
    assert sorted(str(p.relative_to(runs)) for p in runs.glob("*/*")) == sorted(
        f"{m}/{t}" for m in ("clip", "instructblip") for t in ("emoset2", "emoset8", "reasoning", "sensitivity"))
    test = datasets.load_from_disk(str(bench_build))["test"]
    images = sorted(set(test["image_id"]))
    reasoning_rows = [row for row in test if row["kind"] == "reasoning"]
    expected = {"emoset8": len(images), "emoset2": len(images), "sensitivity": 6 * len(images),
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
    assert sorted({r["variant"] for r in sensitivity}) == ["classify", "original", "reversed", "shuffled", "viewer",
                                                           "which"]
    original = [r for r in sensitivity if r["variant"] == "original"]
    assert max(abs(a["scores"][k] - b["scores"][k]) for a, b in zip(original, emoset8) for k in a["scores"]) < 1e-4
    reasoning = _lines(runs / "instructblip" / "reasoning" / "predictions.jsonl")
    assert [r["id"] for r in reasoning] == [r["id"] for r in reasoning_rows]
    assert all(r["scores"] is None and isinstance(r["raw"], str) for r in reasoning)  # generation only


def test_run_folders_carry_the_emoset_attributes_of_their_images(full_run, bench_build):
    import datasets

    root, _, _, _ = full_run
    test = datasets.load_from_disk(str(bench_build))["test"]
    names = ("brightness", "colorfulness", "scene", "objects", "facial_expression", "human_action")
    expected = {}
    for row in test:
        expected.setdefault(row["image_id"], {k: (row["attributes"] or {}).get(k) for k in names})
    for task in ("emoset8", "emoset2", "sensitivity"):  # emoset2 carries the data of the task it derives from
        lines = _lines(root / "out" / "runs" / "clip" / task / "sample_data.jsonl")
        assert {line["image_id"]: line["attributes"] for line in lines} == expected, task


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

    root, board_rows, _, _ = full_run
    run = root / "out" / "runs" / "instructblip" / "emoset8"
    rows = _lines(run / "predictions.jsonl")
    metrics = json.loads((run / "metrics.json").read_text())
    gold, pred = [r["gold"] for r in rows], [r["pred"] or "-" for r in rows]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    used = [label for label in ALPHABETICAL_EMOTIONS if label in set(gold) | set(pred)]
    assert metrics["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=used, average="macro"))
    board = {(r["model"], r["task"]): r for r in board_rows}
    assert board[("instructblip", "emoset8")]["accuracy_ci"] == metrics["accuracy_ci"]


def test_a_second_run_scores_nothing(full_run):
    _, _, second, snapshot = full_run
    assert all("cached" in line or line.startswith("leaderboard") for line in second.log), second.log
    for path, data in snapshot.items():
        assert path.read_bytes() == data
        assert len((path.parent / "run_log.jsonl").read_text().splitlines()) == 1


def test_leaderboard_rebuilt_from_saved_runs_equals_the_runs_own(full_run, tmp_path):
    root, _, _, _ = full_run
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "leaderboard", "--runs",
                             str(root / "out" / "runs"), "--out", str(tmp_path / "board")],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    written = json.loads((root / "out" / "leaderboard" / "leaderboard.json").read_text())
    rebuilt = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert rebuilt == written and len(rebuilt) == 8
    assert (tmp_path / "board" / "leaderboard.csv").read_text() == \
        (root / "out" / "leaderboard" / "leaderboard.csv").read_text()


def test_the_runner_leaves_the_leaderboard_to_the_command(small_config, tmp_path):
    """The runner scores and writes run directories only; 'emovit bench run' (and the demo) rebuild the
    leaderboard from them afterwards, exactly as 'emovit bench leaderboard' would."""
    path = small_config(tasks=["emoset8"])
    result = run_bench(load_config(path))
    assert result.runs == [tmp_path / "out" / "runs" / model / "emoset8" for model in ("clip", "instructblip")]
    assert not (tmp_path / "out" / "leaderboard").exists()
    again, rows = run_and_rank(load_config(path))
    assert again.runs == result.runs and again.log[-1] == f"leaderboard: {tmp_path / 'out' / 'leaderboard' / 'leaderboard.md'}"
    assert json.loads((tmp_path / "out" / "leaderboard" / "leaderboard.json").read_text()) == rows
    assert sorted((row["model"], row["task"]) for row in rows) == [("clip", "emoset8"), ("instructblip", "emoset8")]
    _, none = run_and_rank(load_config(path, [f"out={tmp_path / 'quiet'}", "leaderboard=false"]))
    assert none is None and not (tmp_path / "quiet" / "leaderboard").exists()


def test_a_changed_task_file_does_not_reuse_old_results(small_config, tmp_path):
    task = tmp_path / "mytask.yaml"
    task.write_bytes((ROOT / "benchmarks" / "tasks" / "emoset8.yaml").read_bytes().replace(
        b"name: emoset8", b"name: mytask"))
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


def test_a_model_entry_trains_first_and_reuses_its_training(tmp_path, zoo, bench_build):
    entry = {"name": "emovit", "adapter": "emovit", "base": str(zoo["instructblip"]),
             "train": {"kinds": ["categorical"], "max_steps": 2, "batch_size": 8, "lr": 1e-3, "warmup_steps": 0,
                       "eval_limit": 8, "train_fraction": 0.5, "seed": 3}}
    path = write_config(tmp_path / "c.yaml", {"out": str(tmp_path / "out"), "data": {"build": str(bench_build)},
                                              "tasks": ["emoset8"], "progress": False, "models": [entry]})
    _, board = run_and_rank(load_config(path))
    trained = json.loads((tmp_path / "out" / "_train" / "emovit" / "run_config.json").read_text())
    assert trained["config"]["train_fraction"] == 0.5 and trained["config"]["base"] == str(zoo["instructblip"])
    assert trained["rows"]["train"] == 16  # half of the 4 images per emotion, one categorical row each
    config = json.loads((tmp_path / "out" / "runs" / "emovit" / "emoset8" / "config.json").read_text())
    assert config["training"]["config"]["seed"] == 3
    assert config["model"]["reference"] == str(tmp_path / "out" / "_train" / "emovit" / "adapter")
    assert board[0]["train_fraction"] == 0.5
    again = run_bench(load_config(path))
    assert again.log[0] == f"emovit: training cached ({tmp_path / 'out' / '_train' / 'emovit' / 'adapter'})"
    retrained = run_bench(load_config(path, ["models.emovit.train.seed=4"]))
    assert any(line.startswith("emovit: training emovit") for line in retrained.log)
    assert any("run key" in line for line in retrained.log)  # a new adapter: its predictions are redone


@pytest.mark.slow
def test_two_processes_split_the_samples_and_merge_into_the_single_process_result(small_config, tmp_path):
    """A real two-process launch (torchrun, gloo on CPU; what ``accelerate launch`` sets up on GPUs)."""
    path = small_config(tasks=["emoset8", "emoset2"], batch_size=4)
    run_bench(load_config(path, [f"out={tmp_path / 'single'}", "leaderboard=false"]))
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run([str(torchrun), "--nproc-per-node", "2", "-m", "benchmarks", "run", "--config", str(path),
                             f"out={tmp_path / 'ranks'}"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    for model in ("instructblip", "clip"):
        for task in ("emoset8", "emoset2"):
            one = _lines(tmp_path / "single" / "runs" / model / task / "predictions.jsonl")
            two = _lines(tmp_path / "ranks" / "runs" / model / task / "predictions.jsonl")
            assert [(r["id"], r["pred"]) for r in one] == [(r["id"], r["pred"]) for r in two]
            assert max(abs(a["scores"][k] - b["scores"][k]) for a, b in zip(one, two) for k in a["scores"]) < 1e-4
            assert not (tmp_path / "ranks" / "runs" / model / task / "shards").exists()
    log = _lines(tmp_path / "ranks" / "runs" / "clip" / "emoset8" / "run_log.jsonl")
    assert log == [{"already": 0, "scored": 32, "time": log[0]["time"], "world_size": 2}]
    config = json.loads((tmp_path / "ranks" / "runs" / "clip" / "emoset8" / "config.json").read_text())
    assert config["world_size"] == 2
    assert result.stdout.count("clip/emoset8: 32 samples") == 1  # only the main process reports
    assert (tmp_path / "ranks" / "leaderboard" / "leaderboard.json").is_file()


def test_usage_errors_are_one_line(small_config, tmp_path):
    path = small_config(tasks=["folder"])
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "run", "--config", str(path)],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "emovit bench: error: task folder needs data.folder (<root>/<class>/*.jpg) or data.folder_synth"]
    result = subprocess.run([sys.executable, "-m", "builder.cli", "bench", "run", "--config", "nope"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 2 and "unknown config 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_zeroshot_config_at_tiny_size_scores_a_generated_folder(tmp_path):
    from benchmarks.data.samples import folder_fingerprint
    from benchmarks.spec.task import load_task

    overrides = ["size=tiny", f"out={tmp_path / 'out'}", "data.synth.per_class=2", "data.folder_synth.per_class=2",
                 "models.emovit.train.max_steps=1", "models.emovit.train.eval_limit=4", "progress=false",
                 "tasks=[folder]", "leaderboard=false"]
    config = load_config("zeroshot", overrides)
    config.models = [m for m in config.models if m["name"] in ("emovit", "clip")]
    run_bench(config)
    folder = tmp_path / "out" / "_data" / "folder"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["anger", "disgust", "fear", "joy", "sadness",
                                                                      "surprise"]
    rows = _lines(tmp_path / "out" / "runs" / "emovit" / "folder" / "predictions.jsonl")
    assert [r["id"] for r in rows[:3]] == ["anger/anger_000", "anger/anger_001", "disgust/disgust_000"]
    assert rows[0]["image_id"] == "anger_000" and {r["gold"] for r in rows} == {
        "anger", "disgust", "fear", "joy", "sadness", "surprise"}
    assert all(set(r["scores"]) == {"anger", "disgust", "fear", "joy", "sadness", "surprise"} for r in rows)
    task = load_task("folder")
    before = folder_fingerprint(task, folder)
    config_json = json.loads((tmp_path / "out" / "runs" / "clip" / "folder" / "config.json").read_text())
    assert config_json["dataset"] == {"kind": "folder", "path": str(folder), "fingerprint": before}
    (folder / "joy" / "joy_000.jpg").write_bytes((folder / "fear" / "fear_000.jpg").read_bytes())
    assert folder_fingerprint(task, folder) != before
    (folder / "neutral").mkdir()
    with pytest.raises(Exception, match="class folder\\(s\\) neutral not mapped by task folder"):
        folder_fingerprint(task, folder)


def test_an_original_lavis_emovit_checkpoint_is_imported_once_and_scored(tmp_path, zoo, bench_build):
    import torch

    from emovit_model.lavis import import_lavis
    from emovit_model.model import load_emovit, load_model
    from emovit_model.scoring import EmotionClassifier

    model, processor = load_emovit(zoo["instructblip"], device="cpu", verbose=False)
    generator = torch.Generator().manual_seed(1)
    state = {"query_tokens": torch.randn(model.query_tokens.shape, generator=generator) * 0.5,
             "llm_proj.weight": torch.randn(model.language_projection.weight.shape, generator=generator) * 0.2,
             "llm_proj.bias": torch.zeros_like(model.language_projection.bias)}
    pth = tmp_path / "emovit.pth"
    torch.save({"model": state}, pth)  # a partial LAVIS checkpoint: the rest stays as in the base
    path = write_config(tmp_path / "c.yaml", {
        "out": str(tmp_path / "out"), "data": {"build": str(bench_build)}, "tasks": ["emoset8"], "progress": False,
        "leaderboard": False,
        "models": [{"name": "emovit", "adapter": "emovit", "lavis": str(pth), "base": str(zoo["instructblip"])}]})
    run_bench(load_config(path))
    adapter = tmp_path / "out" / "_train" / "emovit" / "lavis-adapter"
    assert (adapter / "adapter.safetensors").is_file()
    config = json.loads((tmp_path / "out" / "runs" / "emovit" / "emoset8" / "config.json").read_text())
    assert config["model"]["reference"] == str(adapter)
    reference, _ = load_model(zoo["instructblip"], device="cpu")
    import_lavis(reference, pth, strict=False)
    assert torch.equal(reference.query_tokens, state["query_tokens"])
    rows = _lines(tmp_path / "out" / "runs" / "emovit" / "emoset8" / "predictions.jsonl")
    import datasets

    test = datasets.load_from_disk(str(bench_build))["test"]
    first = {}
    for row in test:
        first.setdefault(row["image_id"], row["image"])
    expected = EmotionClassifier(reference, processor, batch_size=8).score(list(first.values()))
    assert [r["id"] for r in rows] == list(first)
    assert max(abs(r["scores"][k] - e[k]) for r, e in zip(rows, expected) for k in e) < 1e-4
