"""``emovit bench publish``: the dry-run folder read back with ``datasets`` and ``huggingface_hub`` (as the Hub
and its leaderboards would read it), every value checked against ``leaderboard.json``; the push path with a
token goes through ``HfApi`` (stubbed: the Hub is not reachable) and never shows the token."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from builder.cli import main
from tests.support.runs import LABELS, prediction_line, write_run

SECRET = "hf_NotARealTokenButSecret123"


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    from benchmarks.board.leaderboard import write_leaderboard

    root = tmp_path_factory.mktemp("publish")
    gold = [LABELS[i % 8] for i in range(40)]
    common = {"versions": {"torch": "2.13.0"}, "device": "cpu", "dtype": "float32", "task_hash": "a" * 64}
    emovit = [prediction_line(f"s{i}", "emovit", "emoset8", g, g if i % 5 else LABELS[(i + 1) % 8])
              for i, g in enumerate(gold)]
    write_run(root / "runs" / "emovit" / "emoset8", emovit,
              {**common, "model": {"name": "emovit", "adapter": "emovit", "reference": "runs/emovit/adapter",
                                   "identity": "3f9a0c1d2e4b5a69"},
               "task": {"name": "emoset8", "labels": list(LABELS)}, "training": {"config": {"lr": 1e-5}}})
    llava = [prediction_line(f"s{i}", "llava", "emoset8", g, g if i % 2 else None, mode="generate")
             for i, g in enumerate(gold)]
    write_run(root / "runs" / "llava" / "emoset8", llava,
              {**common, "model": {"name": "llava", "adapter": "llava", "reference": "llava-hf/llava-1.5-7b-hf",
                                   "identity": "hub:llava-hf/llava-1.5-7b-hf"},
               "task": {"name": "emoset8", "labels": list(LABELS)}})
    polar = ["positive", "negative"]
    write_run(root / "runs" / "emovit" / "emoset2",
              [{"id": f"s{i}", "gold": polar[i % 2], "pred": polar[(i // 4) % 2], "model": "emovit"}
               for i in range(24)],
              {**common, "task_hash": "b" * 64, "model": {"name": "emovit", "adapter": "emovit"},
               "task": {"name": "emoset2", "labels": polar}})
    write_run(root / "runs" / "someone" / "emoset8",
              [{"id": f"s{i}", "gold": g, "pred": g if i < 30 else None} for i, g in enumerate(gold)],
              {"model": "lab/their-vlm", "task": "emoset8", "imported": {"tool": "vlmevalkit"}})
    write_leaderboard([root / "runs"], root / "board", plots=False)
    return root / "board"


def _rows(board: Path) -> dict[tuple[str, str], dict]:
    return {(r["model"], r["task"]): r for r in json.loads((board / "leaderboard.json").read_text())}


def test_dry_run_folder_reads_back_with_every_value_of_the_board(board, tmp_path, capsys):
    import datasets
    from huggingface_hub import DatasetCard, ModelCard

    out = tmp_path / "hub"
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/emovit-results",
                 "--dry-run", str(out)]) == 0
    assert "3 results file(s), 4 details file(s), 1 model card(s)" in capsys.readouterr().out
    rows = _rows(board)

    results = {p.parent.relative_to(out / "results").as_posix(): json.loads(p.read_text())
               for p in (out / "results").rglob("results_*.json")}
    assert sorted(results) == ["lab/their-vlm", "llava-hf/llava-1.5-7b-hf", "my-org/emovit"]
    assert results["my-org/emovit"]["config"] == {"model_name": "my-org/emovit", "model_sha": "3f9a0c1d2e4b5a69",
                                                  "model_dtype": "torch.float32"}
    assert results["llava-hf/llava-1.5-7b-hf"]["config"] == {"model_name": "llava-hf/llava-1.5-7b-hf",
                                                             "model_sha": "main", "model_dtype": "torch.float32"}
    assert results["lab/their-vlm"]["config"]["model_dtype"] == "Unknown"
    for name, model in (("my-org/emovit", "emovit"), ("llava-hf/llava-1.5-7b-hf", "llava"),
                        ("lab/their-vlm", "lab/their-vlm")):
        for task, metrics in results[name]["results"].items():
            row = rows[(model, task)]
            first = {"accuracy": row["accuracy"], "accuracy_ci_low": row["accuracy_ci"][0],
                     "accuracy_ci_high": row["accuracy_ci"][1], "macro_f1": row["macro_f1"],
                     "uar": row["uar"], "parse_failure_rate": row["parse_failure_rate"], "n": row["n"]}
            assert {k: metrics[k] for k in first} == first
            # every other figure of the row: one key each, intervals as low/high, null where it does not apply
            for key in ("rank", "tied_with_best", "p_vs_best", "p_vs_best_holm", "calibration_n", "ece", "brier",
                        "nll", "answered", "top_label_share", "top_label_flag", "tv_distance", "parse_failures"):
                assert metrics[key] == row[key], (model, task, key)
            for key in ("ece", "brier", "nll", "top_label_share", "tv_distance"):
                pair = row[f"{key}_ci"] or [None, None]
                assert [metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"]] == pair
            assert not {"bootstrap_seed", "task_hash", "device", "leaked", "checkpoint"} & set(metrics)
    assert sorted(results["my-org/emovit"]["results"]) == ["emoset2", "emoset8"]
    assert results["my-org/emovit"]["results"]["emoset8"]["accuracy"] == 32 / 40      # by hand: every 5th wrong
    assert results["llava-hf/llava-1.5-7b-hf"]["results"]["emoset8"]["ece"] is None     # no scores: null, not 0
    assert results["my-org/emovit"]["results"]["emoset8"]["tied_with_best"] is True

    for (model, task), row in rows.items():
        path = out / "details" / model.replace("/", "__") / f"{task}.parquet"
        details = datasets.load_dataset("parquet", data_files=str(path), split="train")
        assert len(details) == row["n"]
        assert sum(details["correct"]) / len(details) == row["accuracy"]
        assert sum(p is None for p in details["pred"]) == row["parse_failures"]
        source = [json.loads(line) for line in (board.parent / row["source"]).read_text().splitlines()]
        assert details["id"] == [line["id"] for line in source] and details["gold"] == [line["gold"] for line in source]
    scores = datasets.load_dataset("parquet", data_files=str(out / "details/emovit/emoset8.parquet"), split="train")
    assert json.loads(scores["scores"][0]) == {label: (0.0 if label == "anger" else -1.0) for label in LABELS}
    assert scores["pred"][0] == "anger" and scores["correct"][:2] == [False, True]
    # each sample's share of the calibration figures: scores 0 for the answer and -1 for the 7 others, so
    # the top probability is 1 / (1 + 7/e); the gold label's is that when right, (1/e) / (1 + 7/e) when wrong
    top, other = 1 / (1 + 7 / math.e), (1 / math.e) / (1 + 7 / math.e)
    assert scores["confidence"][0] == pytest.approx(top) and scores["p_gold"][0] == pytest.approx(other)
    assert scores["p_gold"][1] == pytest.approx(top) and scores["nll"][1] == pytest.approx(-math.log(top))
    assert scores["brier"][1] == pytest.approx((1 - top) ** 2 + 7 * other ** 2)
    assert sum(scores["nll"]) / 40 == pytest.approx(rows[("emovit", "emoset8")]["nll"])
    generated = datasets.load_dataset("parquet", data_files=str(out / "details/llava/emoset8.parquet"), split="train")
    assert set(generated["confidence"]) == {None}

    card = ModelCard.load(out / "model_cards" / "emovit" / "README.md")
    assert card.data.model_name == "my-org/emovit"
    found = {(r.dataset_name, r.metric_type): r for r in card.data.eval_results}
    assert sorted(found) == [(t, m) for t in ("emoset2", "emoset8") for m in ("accuracy", "f1", "recall")]
    for task in ("emoset2", "emoset8"):
        row = rows[("emovit", task)]
        assert found[(task, "accuracy")].metric_value == row["accuracy"]
        assert found[(task, "f1")].metric_value == row["macro_f1"] and found[(task, "f1")].metric_config == "macro"
        assert found[(task, "recall")].metric_value == row["uar"]
        assert found[(task, "accuracy")].dataset_type == "my-org/emovit-results"
        assert found[(task, "accuracy")].source_url == "https://huggingface.co/datasets/my-org/emovit-results"
    assert not (out / "model_cards" / "llava").exists()                     # zero-shot: not trained here

    dataset = DatasetCard.load(out / "README.md")
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in dataset.data.configs}
    assert configs["details_emovit_emoset8"] == "details/emovit/emoset8.parquet" and len(configs) == 4
    emovit = rows[("emovit", "emoset8")]
    assert f"| emovit | 40 | {emovit['accuracy']:.3f} [{emovit['accuracy_ci'][0]:.3f}" in dataset.text
    loaded = datasets.load_dataset(str(out), "details_llava_emoset8", split="latest")
    assert len(loaded) == 40
    assert json.loads((out / "leaderboard.json").read_text()) == json.loads((board / "leaderboard.json").read_text())
    assert (out / "index.html").read_text() == (board / "index.html").read_text()
    assert (out / "leaderboard_tasks.json").read_text() == (board / "leaderboard_tasks.json").read_text()
    assert not (out / "space").exists()


def test_space_folder_is_a_static_space_with_the_page(board, tmp_path, capsys):
    from huggingface_hub import SpaceCard

    out = tmp_path / "hub"
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res", "--space", "my-org/board",
                 "--dry-run", str(out)]) == 0
    assert f"static Space my-org/board in {out / 'space'}" in capsys.readouterr().out
    space = out / "space"
    text = (space / "README.md").read_text()
    assert text.startswith("---\n") and "\nsdk: static\n" in text and "\napp_file: index.html\n" in text
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "static" and card.data.app_file == "index.html" and card.data.datasets == ["my-org/res"]
    for name in ("index.html", "leaderboard.json", "leaderboard_tasks.json", "leaderboard.md", "leaderboard.csv"):
        assert (space / name).read_bytes() == (board / name).read_bytes(), name
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res", "--space", "not a space",
                 "--dry-run", str(tmp_path / "x")]) == 2
    assert "--space not a space: expected ORG/NAME" in capsys.readouterr().err


def test_refusals(board, tmp_path, capsys):
    def publish(*args):
        code = main(["bench", "publish", *args])
        return code, capsys.readouterr().err

    code, err = publish("--board", str(tmp_path), "--repo", "o/r", "--dry-run", str(tmp_path / "x"))
    assert code == 2 and "not a leaderboard" in err and len(err.splitlines()) == 1
    code, err = publish("--board", str(board), "--repo", "no-org", "--dry-run", str(tmp_path / "x"))
    assert code == 2 and "--repo no-org: expected ORG/NAME" in err
    code, err = publish("--board", str(board), "--repo", "o/r", "--dry-run", str(tmp_path / "x"), "--model-repo", "x")
    assert code == 2 and "--model-repo x: expected MODEL=ORG/NAME" in err
    moved = tmp_path / "board"
    moved.mkdir()
    rows = json.loads((board / "leaderboard.json").read_text())
    (moved / "leaderboard.json").write_text(json.dumps([{**rows[0], "accuracy": 0.123}]))
    (moved / "local_sources.json").write_text((board / "local_sources.json").read_text())
    code, err = publish("--board", str(moved), "--repo", "o/r", "--dry-run", str(tmp_path / "y"))
    assert code == 2 and "no longer match leaderboard.json" in err


def test_push_uses_the_token_and_never_shows_it(board, tmp_path, capsys, monkeypatch):
    import huggingface_hub

    calls = []

    def upload_folder(self, *, folder_path, repo_id, repo_type, **kwargs):
        files = sorted(p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*") if p.is_file())
        leaked = [f for f in files if SECRET in (Path(folder_path) / f).read_text(errors="ignore")]
        calls.append(("upload_folder", repo_id, repo_type, files, leaked, kwargs.get("ignore_patterns"), self.token))
        return "https://huggingface.co/datasets/my-org/res/commit/abc"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw.get("repo_type"))))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(huggingface_hub.HfApi, "file_exists", lambda self, repo_id, filename, **kw: True)
    monkeypatch.setattr(huggingface_hub, "metadata_update",
                        lambda repo_id, metadata, **kw: calls.append(("metadata_update", repo_id, metadata, kw["token"])))
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res",
                 "--model-repo", "emovit=my-org/EmoVIT-7B"]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert calls[0] == ("create_repo", "my-org/res", "dataset")
    _, repo, kind, files, leaked, ignored, token = calls[1]
    assert (repo, kind, leaked, ignored, token) == ("my-org/res", "dataset", [], ["model_cards/**", "space/**"],
                                                    SECRET)
    assert "README.md" in files and "results/my-org/EmoVIT-7B/" in " ".join(files)
    assert "details/emovit/emoset8.parquet" in files
    _, repo, metadata, token = calls[2]
    assert repo == "my-org/EmoVIT-7B" and token == SECRET
    [entry] = metadata["model-index"]
    assert entry["name"] == "my-org/EmoVIT-7B" and len(entry["results"]) == 2

    calls.clear()
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw)))
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res", "--space", "my-org/board"]) == 0
    assert "space my-org/board:" in capsys.readouterr().out
    created = [(repo, kw["repo_type"], kw.get("space_sdk")) for kind, repo, *rest in calls if kind == "create_repo"
               for kw in rest]
    assert created == [("my-org/res", "dataset", None), ("my-org/board", "space", "static")]
    _, repo, kind, files, leaked, _, _ = next(c for c in calls if c[0] == "upload_folder" and c[2] == "space")
    assert repo == "my-org/board" and leaked == [] and {"README.md", "index.html", "leaderboard_tasks.json"} <= set(files)

    def failing(self, **kwargs):
        raise RuntimeError(f"401 Unauthorized for token {SECRET}")

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", failing)
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res"]) == 2
    err = capsys.readouterr().err
    assert SECRET not in err and "could not push to the Hub: RuntimeError: 401 Unauthorized for token ***" in err
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert main(["bench", "publish", "--board", str(board), "--repo", "my-org/res"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
