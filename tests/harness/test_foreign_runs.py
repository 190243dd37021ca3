"""Runs written by other tools never crash ``emovit bench leaderboard``: minimal lines, configs of any shape,
unreadable configs (one warning), bad lines (one error naming file and line, exit 2)."""

from __future__ import annotations

import json

import pytest

from builder.cli import main
from tests.support.runs import LABELS, prediction_line, write_run


def _bench(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", "leaderboard", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _gold(n: int) -> list[str]:
    return [LABELS[i % 8] for i in range(n)]


def test_the_issue_case_string_config_and_full_foreign_lines(tmp_path, capsys):
    """Two runs of another tool: lines with id/model/task/gold/pred/raw/scores, config.json of strings."""
    gold = _gold(16)
    for name, right in (("a", 12), ("b", 8)):
        lines = [{"id": f"s{i}", "model": f"tool-{name}", "task": "emoset8", "gold": g,
                  "pred": g if i < right else LABELS[(i + 1) % 8],
                  "raw": f"The emotion is {g if i < right else LABELS[(i + 1) % 8]}.", "scores": {"confidence": 0.9}}
                 for i, g in enumerate(gold)]
        write_run(tmp_path / "runs" / name, lines, {"model": f"tool-{name}", "task": "emoset8"})
    code, out, err = _bench(capsys, "--runs", str(tmp_path / "runs" / "a"), str(tmp_path / "runs" / "b"),
                            "--out", str(tmp_path / "board"), "--no-plots")
    assert (code, err) == (0, "")
    assert out.startswith("2 rows -> ")
    rows = {row["model"]: row for row in json.loads((tmp_path / "board" / "leaderboard.json").read_text())}
    assert rows["tool-a"]["accuracy"] == 12 / 16 and rows["tool-b"]["accuracy"] == 8 / 16
    assert rows["tool-a"]["mode"] == "generate" and rows["tool-a"]["parse_rules"]["single_label"] == 16
    assert rows["tool-a"]["mcnemar_detail"]["tool-b"]["n"] == 16
    assert rows["tool-a"]["leaked"] is None and rows["tool-a"]["imported_from"] is None


@pytest.mark.parametrize("config, model, task", [
    (None, "folder-model", "emoset8"),                                                     # no config: folders
    ({"model": "m-str", "task": "emoset8"}, "m-str", "emoset8"),                           # strings
    ({"model": {"name": "m-dict", "adapter": 3}, "task": {"name": "emoset8", "labels": list(LABELS)}},
     "m-dict", "emoset8"),                                                                 # our dict shape
    ({"model": {"path": "/x"}, "task": {"labels": "not a list"}}, "folder-model", "emoset8"),  # dicts, no names
    ({"model": 5, "task": ["emoset8"], "versions": "2.0", "training": "yes", "leakage": {"count": "3"}},
     "folder-model", "emoset8"),                                                           # wrong types
    ([1, 2, 3], "folder-model", "emoset8"),                                                # not an object
])
def test_model_and_task_come_from_line_config_or_folders(tmp_path, capsys, config, model, task):
    gold = _gold(8)
    lines = [{"id": i, "gold": g, "pred": g if i % 2 else None} for i, g in enumerate(gold)]
    folder = write_run(tmp_path / "runs" / "folder-model" / "emoset8", lines)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    code, _, err = _bench(capsys, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"), "--no-plots")
    assert code == 0
    assert err == ("" if isinstance(config, dict) or config is None else
                   f"warning: {folder / 'config.json'}: run config is a JSON list, not an object; ignored\n")
    [row] = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert (row["model"], row["task"], row["n"], row["accuracy"], row["mode"]) == (model, task, 8, 0.5, "label")
    assert row["parse_failure_rate"] == 0.5 and row["leaked"] is None


def test_an_unreadable_config_is_one_warning_and_the_run_still_counts(tmp_path, capsys):
    folder = write_run(tmp_path / "runs" / "m" / "emoset8",
                       [prediction_line(f"s{i}", "m", "emoset8", g, g) for i, g in enumerate(_gold(8))])
    (folder / "config.json").write_bytes(b'{"model": "m", "task": {"name": "emoset8", "lab')   # truncated
    code, out, err = _bench(capsys, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"), "--no-plots")
    assert code == 0 and out.startswith("1 rows")
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"warning: {folder / 'config.json'}: unreadable run config (JSONDecodeError: ")
    assert lines[0].endswith("; ignored")
    (folder / "config.json").write_bytes(b"\xff\xfe not utf-8")
    code, _, err = _bench(capsys, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"), "--no-plots")
    assert code == 0 and "unreadable run config (UnicodeDecodeError" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("bad, number, reason", [
    ('{"id": "x9", "gold": "awe", "pr', 4, "not valid JSON"),                        # truncated last line
    ('{"id": "x9", "pred": "awe"}', 4, "a line needs id, gold and pred (or raw); got id, pred"),
    ('["x9", "awe", "awe"]', 4, "a line needs id, gold and pred (or raw); got a JSON list"),
    ('{"id": "x9", "gold": "awe", "pred": "joy"}', 4, "field 'pred' failed pred_is_a_label"),
    ('{"id": "s0", "gold": "awe", "pred": "awe"}', 4, "row failed id_unique_per_model_and_task"),
    ('{"id": "x9", "gold": 3, "pred": "awe"}', 4, "field 'gold' failed"),
])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, capsys, bad, number, reason):
    lines = [json.dumps({"id": f"s{i}", "gold": g, "pred": g}) for i, g in enumerate(_gold(3))]
    folder = tmp_path / "runs" / "m" / "emoset8"
    folder.mkdir(parents=True)
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n" + bad)   # the bad line ends the file
    (folder / "config.json").write_text(json.dumps({"task": {"name": "emoset8", "labels": list(LABELS)}}))
    code, out, err = _bench(capsys, "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"emovit bench: error: {folder / 'predictions.jsonl'}:{number}: ")
    assert reason in err
    assert not (tmp_path / "board" / "leaderboard.json").exists()


def test_answer_text_is_read_by_our_parser_not_the_stated_label(tmp_path):
    """A foreign tool's own reading of its answers is not trusted: raw is parsed again, by our rules."""
    from benchmarks.board.leaderboard import write_leaderboard

    answers = [("awe", "Predict emotion: awe", "awe"),           # agreed
               ("fear", "fear", "sadness"),                      # tool mis-read it: we say fear (right)
               ("anger", "anger or disgust", "anger"),           # two labels: we refuse to guess
               ("awe", "awesome!", "awe"),                       # 'awesome' is not 'awe'
               ("sadness", "I cannot tell", None)]               # nobody reads a label
    lines = [{"id": f"s{i}", "gold": g, "raw": raw, "pred": stated} for i, (g, raw, stated) in enumerate(answers)]
    write_run(tmp_path / "runs" / "tool" / "emoset8", lines, {"task": {"name": "emoset8", "labels": list(LABELS)}})
    [row] = write_leaderboard([tmp_path / "runs"], tmp_path / "board", plots=False)
    assert row["accuracy"] == 2 / 5 and row["parse_failure_rate"] == 3 / 5
    assert row["parse_rules"] == {"exact": 1, "single_label": 1, "failure": 3, "unclosed_reasoning": 0}
    assert row["reparse_changed"] == 3


def test_a_derived_task_reads_the_base_answer_and_maps_it(tmp_path):
    from benchmarks.board.leaderboard import write_leaderboard

    mapping = {label: ("positive" if label in ("amusement", "awe", "contentment", "excitement") else "negative")
               for label in LABELS}
    lines = [{"id": "a", "gold": "positive", "pred": "positive", "raw": "Predict emotion: awe", "scores": None},
             {"id": "b", "gold": "negative", "pred": "positive", "raw": "Predict emotion: amusement", "scores": None},
             {"id": "c", "gold": "negative", "pred": None, "raw": "fear and awe", "scores": None}]
    config = {"task": {"name": "emoset2", "labels": ["positive", "negative"], "source": "derived", "map": mapping}}
    write_run(tmp_path / "runs" / "m" / "emoset2", lines, config)
    [row] = write_leaderboard([tmp_path / "runs"], tmp_path / "board", plots=False)
    assert row["accuracy"] == 1 / 3 and row["parse_failures"] == 1 and row["reparse_changed"] == 0


def test_leakage_count_from_the_run_config_reaches_rows_and_csv(tmp_path):
    from benchmarks.board.leaderboard import write_leaderboard

    lines = [prediction_line(f"s{i}", "m", "emoset8", g, g) for i, g in enumerate(_gold(8))]
    write_run(tmp_path / "runs" / "m" / "emoset8", lines, {"leakage": {"count": 3, "ids": ["s1", "s2", "s3"]}})
    write_run(tmp_path / "runs" / "n" / "emoset8",
              [{**line, "model": "n"} for line in lines], {"leakage": {"count": 0}})
    rows = {row["model"]: row for row in write_leaderboard([tmp_path / "runs"], tmp_path / "board", plots=False)}
    assert rows["m"]["leaked"] == 3 and rows["n"]["leaked"] == 0
    csv = (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()
    assert csv[0].endswith(",leaked") and {line.rsplit(",", 1)[1] for line in csv[1:]} == {"3", "0"}


def test_curation_reader_takes_minimal_lines_too(tmp_path):
    from builder.curation.predictions import read_model_predictions

    lines = [{"id": "awe_1", "gold": "awe", "pred": "awe"}, {"id": "fear_2", "gold": "fear", "pred": None}]
    write_run(tmp_path / "runs" / "tool-x" / "emoset8", lines)
    loaded = read_model_predictions([tmp_path / "runs"], LABELS)
    assert list(loaded.models) == ["tool-x"] and loaded.rejected_lines == []
    assert loaded.models["tool-x"].opinions["awe_1"].label == "awe" and loaded.models["tool-x"].unparsed == 1

