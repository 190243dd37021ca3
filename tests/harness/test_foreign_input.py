"""Valid foreign input is read as it is meant (line separators inside strings, a byte-order mark, label case,
numeric-looking ids, answers that look like missing values), runs that cannot be compared are refused, and
unusable input is one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from builder.cli import main
from tests.support.runs import LABELS, prediction_line, write_run

#: Characters that are valid, unescaped, inside a JSON string but that str.splitlines() breaks on.
SEPARATORS = ("\u2028", "\u2029", "\u0085")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _board(capsys, *runs: Path, out: Path) -> dict[tuple[str, str], dict]:
    code, _, err = _cli(capsys, "leaderboard", "--runs", *map(str, runs), "--out", str(out), "--no-plots")
    assert code == 0, err
    return {(r["model"], r["task"]): r for r in json.loads((out / "leaderboard.json").read_text())}


def _one_line_refusal(capsys, *args: str) -> str:
    code, _, err = _cli(capsys, *args)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("emovit bench: error: "), err
    return err


# ------------------------------------------------------------------------------------- item 4: line separators
def test_our_own_api_run_with_line_separators_in_its_answers_stays_readable(tmp_path, capsys):
    """The run store writes the answers (as a rerun would find them cached); the leaderboard reads them back."""
    from benchmarks.run.store import RunStore

    store = RunStore(tmp_path / "runs" / "gpt" / "emoset8", "key1")
    store.open({"model": {"name": "gpt", "adapter": "openai"}, "task": {"name": "emoset8", "labels": list(LABELS)}})
    answers = [f"Predict emotion: {LABELS[i % 8]}{SEPARATORS[i % 3]}(it is calm)" for i in range(9)]
    store.appender(0)([{"id": f"s{i}", "image_id": f"s{i}", "model": "gpt", "task": "emoset8",
                        "gold": LABELS[i % 8], "pred": LABELS[i % 8], "raw": a, "scores": None}
                       for i, a in enumerate(answers)])
    assert [r["raw"] for r in store.records()] == answers
    store.merge([f"s{i}" for i in range(9)])
    assert store.complete([f"s{i}" for i in range(9)])              # a rerun finds the run finished
    row = _board(capsys, tmp_path / "runs", out=tmp_path / "board")[("gpt", "emoset8")]
    assert (row["n"], row["accuracy"], row["parse_rules"]["exact"]) == (9, 1.0, 0)
    assert row["parse_rules"]["single_label"] == 9                 # by hand: "<label>\u2028(it is calm)" is no exact answer


def test_imported_answers_and_judge_verdicts_with_line_separators_are_read_whole(tmp_path, capsys):
    """The importers' writers and the judge file pair with the leaderboard's reader."""
    rows = [{"index": i, "question": "q", **dict(zip("ABCDEFGH", LABELS)), "answer": "ABCDEFGH"[i % 8],
             "prediction": f"{LABELS[i % 8]}{SEPARATORS[i % 3]}because"} for i in range(6)]
    work = tmp_path / "outputs" / "vlm"
    work.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(work / "vlm_EmoSet8.tsv", sep="\t", index=False, quoting=csv.QUOTE_ALL)
    logs = tmp_path / "logs" / "org__m"
    logs.mkdir(parents=True)
    (logs / "20250101_000000_samples_emoset8.jsonl").write_text("".join(
        json.dumps({"doc_id": i, "target": LABELS[i], "filtered_resps": [f"{LABELS[i]}{SEPARATORS[i % 3]}ok"]},
                   ensure_ascii=False) + "\n" for i in range(6)), encoding="utf-8")
    assert _cli(capsys, "import", "--from", "vlmevalkit", str(work / "vlm_EmoSet8.tsv"),
                "--out", str(tmp_path / "runs"))[0] == 0
    assert _cli(capsys, "import", "--from", "lmms-eval", str(tmp_path / "logs"), "--out", str(tmp_path / "runs"))[0] == 0
    run = tmp_path / "runs" / "vlm" / "emoset8"
    (run / "judge.jsonl").write_text("".join(json.dumps({"id": str(i), "verdict": "consistent",
                                                         "raw": f"yes{SEPARATORS[i % 3]}fine"}, ensure_ascii=False)
                                             + "\n" for i in range(6)), encoding="utf-8")
    board = _board(capsys, tmp_path / "runs", out=tmp_path / "board")
    assert board[("vlm", "emoset8")]["n"] == 6 and board[("vlm", "emoset8")]["accuracy"] == 1.0
    assert board[("vlm", "emoset8")]["judge"] == {"n": 6, "judged": 6, "consistent_rate": 1.0}
    assert board[("org/m", "emoset8")]["n"] == 6 and board[("org/m", "emoset8")]["accuracy"] == 1.0
    raws = [json.loads(line)["raw"] for line in (run / "predictions.jsonl").read_text().split("\n") if line]
    assert raws == [f"{LABELS[i % 8]}{SEPARATORS[i % 3]}because" for i in range(6)]


# ------------------------------------------------------------------------------------- item 5: byte-order mark
def test_a_byte_order_mark_opens_a_foreign_predictions_file(tmp_path, capsys):
    folder = tmp_path / "runs" / "m" / "emoset8"
    folder.mkdir(parents=True)
    lines = [json.dumps({"id": f"s{i}", "gold": LABELS[i % 8], "pred": LABELS[i % 8]}) for i in range(8)]
    (folder / "predictions.jsonl").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    row = _board(capsys, tmp_path / "runs", out=tmp_path / "board")[("m", "emoset8")]
    assert (row["n"], row["accuracy"]) == (8, 1.0)
    logs = tmp_path / "logs" / "m2"
    logs.mkdir(parents=True)
    (logs / "20250101_000000_samples_emoset8.jsonl").write_bytes(b"\xef\xbb\xbf" + "".join(
        json.dumps({"doc_id": i, "target": "awe", "filtered_resps": ["awe"]}) + "\n" for i in range(3)).encode())
    code, out, err = _cli(capsys, "import", "--from", "lmms-eval", str(logs), "--out", str(tmp_path / "imported"))
    assert code == 0, err and "3 samples -> 3 predictions" in out


# ------------------------------------------------------------------------------------- item 6: label sets
def test_runs_sharing_a_task_name_but_not_a_label_set_are_never_ranked_together(tmp_path, capsys):
    eight = write_run(tmp_path / "runs" / "a" / "emoset8",
                      [prediction_line(f"s{i}", "a", "emoset8", LABELS[i % 8], LABELS[i % 8]) for i in range(16)],
                      {"task": {"name": "emoset8", "labels": list(LABELS)}})
    polar = ["positive", "negative"]
    two = write_run(tmp_path / "runs" / "b" / "emoset8",
                    [{"id": f"s{i}", "gold": polar[i % 2], "pred": polar[i % 2]} for i in range(16)],
                    {"model": "b", "task": {"name": "emoset8", "labels": polar}})
    err = _one_line_refusal(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "x"))
    assert "task emoset8:" in err and str(eight / "predictions.jsonl") in err and str(two / "predictions.jsonl") in err
    assert not (tmp_path / "x" / "leaderboard.json").exists()
    (two / "config.json").unlink()                                   # undeclared: the gold labels tell
    (eight / "config.json").unlink()
    err = _one_line_refusal(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "x"))
    assert "task emoset8: the gold labels of" in err and "differ" in err


# ------------------------------------------------------------------------------------- item 7: label case
def test_label_case_and_spaces_never_split_a_class(tmp_path, capsys):
    """Gold ``Anger`` and ``anger`` are one label: all-correct answers score 1.0 (by hand), not 0.5."""
    gold = ["Anger", "anger", " Fear", "fear "] * 4
    write_run(tmp_path / "runs" / "m" / "t", [{"id": f"s{i}", "gold": g, "pred": g.strip().lower()}
                                              for i, g in enumerate(gold)])
    row = _board(capsys, tmp_path / "runs", out=tmp_path / "b1")[("m", "t")]
    assert (row["accuracy"], row["macro_f1"], row["uar"]) == (1.0, 1.0, 1.0)
    assert row["labels"] == ["anger", "fear"]                       # the spelling used most
    write_run(tmp_path / "declared" / "m" / "t", [{"id": f"s{i}", "gold": g, "pred": g.upper()}
                                                  for i, g in enumerate(gold)],
              {"task": {"name": "t", "labels": ["Anger", "Fear", "Joy"]}})
    row = _board(capsys, tmp_path / "declared", out=tmp_path / "b2")[("m", "t")]
    assert (row["accuracy"], row["labels"]) == (1.0, ["Anger", "Fear", "Joy"])   # the task's own spelling
    assert row["per_class"]["Anger"]["recall"] == 1.0 and row["confusion"]["labels"] == ["Anger", "Fear", "Joy"]


# ------------------------------------------------------------------------------------- item 9: ids and tasks
def test_vlmevalkit_ids_are_text_and_na_is_an_answer_and_our_export_name_is_our_task(tmp_path, capsys):
    rows = [{"index": i, "image": "", "image_id": f"{i:05d}", "question": "q", **dict(zip("ABCDEFGH", LABELS)),
             "answer": "ABCDEFGH"[i % 8], "category": LABELS[i % 8],
             "prediction": ["NA", "None", "null", "nan", "C"][i % 5]} for i in range(10)]
    work = tmp_path / "outputs" / "MyVLM"
    work.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(work / "MyVLM_EmoSet8.tsv", sep="\t", index=False, quoting=csv.QUOTE_ALL)
    code, out, err = _cli(capsys, "import", "--from", "vlmevalkit", str(work), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    assert "10 samples -> 10 predictions, 0 quarantined" in out
    run = tmp_path / "runs" / "MyVLM" / "emoset8"                    # EmoSet8 is filed under our emoset8
    lines = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"{i:05d}" for i in range(10)]
    assert [line["raw"] for line in lines[:5]] == ["NA", "None", "null", "nan", "awe"]
    assert {line["task"] for line in lines} == {"emoset8"}
    config = json.loads((run / "config.json").read_text())
    assert config["task"]["name"] == "emoset8" and config["task"]["foreign_name"] == "EmoSet8"


# ------------------------------------------------------------------------------------- item 13: one line
def _lmms(folder: Path, records: list, results=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "20250101_000000_samples_emoset8.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    if results is not None:
        (folder / "20250101_000000_results.json").write_text(json.dumps(results))
    return path


def test_bad_lmms_eval_files_are_one_line(tmp_path, capsys):
    good = [{"doc_id": i, "target": "awe", "filtered_resps": ["awe"]} for i in range(3)]
    broken = _lmms(tmp_path / "utf8" / "m", good)
    broken.write_bytes(broken.read_bytes() + b'{"doc_id": 9, "target": "\xff\xfe"}\n')
    err = _one_line_refusal(capsys, "import", "--from", "lmms-eval", str(broken), "--out", str(tmp_path / "r"))
    assert "not UTF-8 text" in err
    listed = _lmms(tmp_path / "list" / "m", good, results=[1, 2, 3])
    err = _one_line_refusal(capsys, "import", "--from", "lmms-eval", str(listed), "--out", str(tmp_path / "r"))
    assert "20250101_000000_results.json: an lmms-eval results file is a JSON object, not a list" in err
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "emoset8_test.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "image_id": ["a", "b", "c"]}), data)
    results = {"configs": {"emoset8": {"dataset_path": "parquet", "dataset_kwargs": {"data_files": {"test": str(data)}}}}}
    odd = _lmms(tmp_path / "odd" / "m", [{"doc_id": d, "target": "awe", "filtered_resps": ["awe"]}
                                         for d in ("0", "²", "1")], results=results)
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(odd), "--out", str(tmp_path / "r"))
    assert code == 0, err                      # "²" is no document position: ids stay the log's doc_ids
    lines = [json.loads(line) for line in (tmp_path / "r" / "m" / "emoset8" / "predictions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["0", "²", "1"]
    for bad in ({"dict": 1}, 1.5, None):
        _lmms(tmp_path / "ids" / "m", [{"doc_id": bad, "target": "awe", "filtered_resps": ["awe"]}])
        err = _one_line_refusal(capsys, "import", "--from", "lmms-eval", str(tmp_path / "ids"), "--out",
                                str(tmp_path / "r2"))
        assert "is neither an integer nor a string" in err


def test_bad_options_and_output_folders_are_one_line(tmp_path, capsys):
    write_run(tmp_path / "runs" / "m" / "emoset8",
              [prediction_line(f"s{i}", "m", "emoset8", LABELS[i % 8], LABELS[i % 8]) for i in range(8)])
    runs = str(tmp_path / "runs")
    assert "--seed -1" in _one_line_refusal(capsys, "leaderboard", "--runs", runs, "--out", str(tmp_path / "b"),
                                            "--seed", "-1")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "below"):
        err = _one_line_refusal(capsys, "leaderboard", "--runs", runs, "--out", str(out))
        assert str(out) in err
        folder = _lmms(tmp_path / "logs" / "m", [{"doc_id": 0, "target": "awe", "filtered_resps": ["awe"]}])
        err = _one_line_refusal(capsys, "import", "--from", "lmms-eval", str(folder), "--out", str(out))
        assert str(out) in err
    assert blocker.read_text() == "not a folder"
    for value in ("nan", "inf", "-1"):
        err = _one_line_refusal(capsys, "plan", "--config", "demo", "--gpu-memory", value)
        assert f"--gpu-memory {float(value)}" in err
    for flag in ("--price-per-million-input", "--price-per-million-output"):
        for value in ("-1", "nan", "inf"):
            err = _one_line_refusal(capsys, "run", "--config", "demo", "--dry-run", flag, value)
            assert err.startswith(f"emovit bench: error: {flag}: ") and "must be a finite number >= 0" in err


def test_an_empty_predictions_file_or_import_is_a_warning_naming_the_file(tmp_path, capsys):
    write_run(tmp_path / "runs" / "m" / "emoset8",
              [prediction_line(f"s{i}", "m", "emoset8", LABELS[i % 8], LABELS[i % 8]) for i in range(8)])
    empty = tmp_path / "runs" / "e" / "emoset8" / "predictions.jsonl"
    empty.parent.mkdir(parents=True)
    empty.write_text("\n\n")
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "b"),
                        "--no-plots")
    assert code == 0 and err == f"warning: {empty}: no predictions (the file is empty); no row for it\n"
    assert [r["model"] for r in json.loads((tmp_path / "b" / "leaderboard.json").read_text())] == ["m"]
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(empty.parent), "--out", str(tmp_path / "b2"))
    assert code == 2 and err.splitlines()[-1] == f"emovit bench: error: no predictions to rank: {empty} is empty"
    logs = tmp_path / "logs"
    _lmms(logs / "full", [{"doc_id": 0, "target": "awe", "filtered_resps": ["awe"]}])
    hollow = _lmms(logs / "hollow", [])
    code, out, err = _cli(capsys, "import", "--from", "lmms-eval", str(logs), "--out", str(tmp_path / "imported"))
    assert code == 0 and err == f"warning: {hollow}: no samples in this lmms-eval output; nothing imported from it\n"
    assert out.splitlines()[-1].startswith("1 run(s) -> ")
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(hollow), "--out", str(tmp_path / "imported2"))
    assert code == 2 and err.splitlines()[0].startswith(f"warning: {hollow}: no samples")
    assert err.splitlines()[1].startswith("emovit bench: error: nothing to import")


# ------------------------------------------------------------------------------------- item 15: config keys and paths
def test_a_data_root_key_that_names_no_task_is_refused_with_the_known_keys():
    from benchmarks.data.samples import rooted_tasks
    from benchmarks.spec.task import load_task
    from schemas.errors import UsageError

    notes = []
    with pytest.raises(UsageError) as refused:
        rooted_tasks([load_task("emotion6"), load_task("fi8")], {"roots": {"emotion6": "E6", "fii": "FI"},
                                                                 "skip_missing": True}, notes.append)
    message = str(refused.value)
    assert message.startswith("data.roots.fii: no held-out dataset or task is called 'fii'; known: ")
    assert all(key in message.split("known: ")[1].split(", ") for key in ("emotion6", "fi", "fi8", "webemo"))
    assert notes == []


def test_plan_reads_the_paths_of_a_config_file_beside_the_file(zoo, tmp_path, monkeypatch, capsys):
    import shutil

    import yaml

    folder = tmp_path / "configs"
    (folder / "tiny-llava").mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(zoo["llava"] / name, folder / "tiny-llava" / name)
    (folder / "plan.yaml").write_text(yaml.safe_dump({
        "name": "p", "out": "runs/p", "tasks": ["emoset8"],
        "models": [{"name": "llava", "adapter": "llava", "path": "tiny-llava"},
                   {"name": "api", "adapter": "openai", "path": "gpt-4o-mini"}]}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from benchmarks.spec.config import load_config

    config = load_config(str(folder / "plan.yaml"), ["models.api.path=gpt-4o"])
    assert [m["path"] for m in config.models] == [str(folder / "tiny-llava"), "gpt-4o"]
    assert config.out == "runs/p"                                       # outputs stay where the command runs
    code, out, err = _cli(capsys, "plan", "--config", str(folder / "plan.yaml"), "--gpu-memory", "1")
    assert code == 0, err
    assert next(line for line in out.splitlines() if line.startswith("llava ")).split()[1] == "vlm"


# ------------------------------------------------------------------------------------- item 16: packaged names
def test_a_folder_named_like_a_packaged_config_or_task_never_shadows_it(tmp_path, monkeypatch):
    from benchmarks.spec.config import load_config
    from benchmarks.spec.task import load_task

    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()                                       # emovit demo --out demo
    (tmp_path / "emotion6" / "images").mkdir(parents=True)            # the held-out dataset unpacked here
    assert load_config("demo").name == "demo"
    assert load_task("emotion6").dataset == "emotion6"
    (tmp_path / "mine.yaml").write_text("name: mine\nsource: folder\nlabels: [a]\nclasses: {a: a}\n"
                                        "instruction: Which?\n")
    assert load_task("mine.yaml").name == "mine"                       # a .yaml argument is a path
