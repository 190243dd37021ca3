"""Other people's files can never make the leaderboard write outside its output folder, overwrite one run
with another, replace a run of ours, publish a path of this machine or run code in a reader's browser or
spreadsheet. Names are data: every file lands inside the folder the user named, one per run."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from builder.cli import main
from tests.support.runs import LABELS, prediction_line, write_run

#: Model names that would leave a folder, or clash, if they were used as paths.
ESCAPING = ["org/../../../escaped", "/abs/olute", "..", "line\nbreak\x00nul", "x" * 300, "C:\\ckpt\\m"]
CLASHING = ["model A", "model:A", "model/A"]


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _runs(folder: Path, models: list[str], task: str = "emoset8", n: int = 8) -> Path:
    """One foreign predictions file holding every model (model and task named on each line); model k gets the
    first k samples wrong, so every run has its own accuracy."""
    lines = []
    for k, model in enumerate(models):
        for i in range(n):
            gold = LABELS[i % 8]
            lines.append(prediction_line(f"s{i}", model, task, gold, LABELS[(i + 1) % 8] if i < k else gold))
    return write_run(folder, lines, {"task": {"name": task, "labels": list(LABELS)}})


def test_names_with_dot_dot_slashes_and_control_characters_write_only_inside_out(tmp_path, capsys):
    """Item 1: the leaderboard (plots), publish (results, details, cards) and import write under OUT only."""
    runs = _runs(tmp_path / "runs" / "foreign", ESCAPING + CLASHING)
    before = _files(tmp_path)
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"))
    assert code == 0, err
    code, out, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                          "--dry-run", str(tmp_path / "hub"))
    assert code == 0, err
    assert "9 results file(s), 9 details file(s)" in out
    new = _files(tmp_path) - before
    assert new and all(p.is_relative_to(tmp_path / "board") or p.is_relative_to(tmp_path / "hub") for p in new)
    assert not (tmp_path / "escaped").exists() and not Path("/abs/olute").exists()
    assert len(list((tmp_path / "board" / "plots").glob("confusion-*.png"))) == 9
    results = [json.loads(p.read_text()) for p in (tmp_path / "hub" / "results").rglob("results_*.json")]
    assert sorted(r["emovit"]["leaderboard_model"] for r in results) == sorted(ESCAPING + CLASHING)
    from huggingface_hub.utils import validate_repo_id

    names = {r["emovit"]["leaderboard_model"]: r["config"]["model_name"] for r in results}
    for name in names.values():                   # every published model name is a Hub id the Hub accepts
        validate_repo_id(name)
    assert names["model/A"] == "model/A"           # a name that is a Hub id stays one
    assert all(names[model].startswith("my-org/") for model in ESCAPING + ["model A", "model:A"])
    assert runs.is_dir()


def test_an_old_lmms_eval_task_name_cannot_write_or_delete_outside_out(tmp_path, capsys):
    """Item 1: ``model_configs.task = "../../x"`` in an lmms-eval <= 0.2.3 log is a name, not a path."""
    logs = tmp_path / "logs" / "run"
    logs.mkdir(parents=True)
    records = [{"doc_id": i, "target": LABELS[i % 8], "filtered_resps": [f"Predict emotion: {LABELS[i % 8]}"]}
               for i in range(8)]
    (logs / "t.json").write_text(json.dumps({"args": {"model_args": "pretrained=org/m"},
                                             "model_configs": {"task": "../../x"}, "logs": records}))
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "quarantine.jsonl").write_text("keep me\n")
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(logs), "--out", str(tmp_path / "imported"))
    assert code == 0, err
    assert (victim / "quarantine.jsonl").read_text() == "keep me\n" and sorted(os.listdir(victim)) == ["quarantine.jsonl"]
    [written] = list((tmp_path / "imported").rglob("predictions.jsonl"))
    assert written.parent.parent.parent == tmp_path / "imported"
    lines = [json.loads(line) for line in written.read_text().splitlines()]
    assert {line["task"] for line in lines} == {"../../x"} and len(lines) == 8        # the name kept as data
    assert json.loads((written.parent / "config.json").read_text())["task"]["name"] == "../../x"


def test_names_that_clean_to_one_file_name_keep_their_own_files(tmp_path, capsys):
    """Item 2: ``model A``, ``model:A`` and ``model/A`` get one confusion plot and one details file each."""
    _runs(tmp_path / "runs" / "foreign", CLASHING)
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"))
    assert code == 0, err
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    links = sorted(line.split("(", 1)[1].rstrip(")") for line in markdown.splitlines() if "](plots/confusion-" in line)
    assert len(links) == 3 == len(set(links)) and all((tmp_path / "board" / link).is_file() for link in links)
    code, out, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                          "--dry-run", str(tmp_path / "hub"))
    assert code == 0, err and "3 details file(s)" in out
    details = sorted((tmp_path / "hub" / "details").rglob("*.parquet"))
    assert len(details) == 3
    # model k answered the first k samples wrong: each file holds its own model's rows (by hand: 8, 7, 6 right)
    assert sorted(int(pd.read_parquet(p)["correct"].sum()) for p in details) == [6, 7, 8]
    from huggingface_hub import DatasetCard

    configs = DatasetCard.load(tmp_path / "hub" / "README.md").data.configs
    assert len({c["config_name"] for c in configs}) == 3


def test_import_never_replaces_a_run_folder_that_our_harness_wrote(tmp_path, capsys):
    """Item 3: a run folder of ours under --out is refused (one line, exit 2) and left as it was."""
    ours = write_run(tmp_path / "runs" / "my-vlm" / "emoset8",
                     [prediction_line(f"s{i}", "my-vlm", "emoset8", LABELS[i % 8], LABELS[i % 8]) for i in range(8)],
                     {"model": {"name": "my-vlm", "adapter": "vlm"}, "task": {"name": "emoset8"}, "run_key": "k1"})
    (ours / "metrics.json").write_text('{"accuracy": 1.0}\n')
    before = {p.name: p.read_bytes() for p in ours.iterdir()}
    folder = tmp_path / "logs" / "m"
    folder.mkdir(parents=True)
    (folder / "20250101_000000_samples_emoset8.jsonl").write_text("".join(
        json.dumps({"doc_id": i, "target": "awe", "filtered_resps": ["awe"]}) + "\n" for i in range(4)))
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(folder), "--out", str(tmp_path / "runs"),
                        "--model", "my-vlm")
    assert code == 2 and len(err.splitlines()) == 1
    assert f"{ours}: holds a run that 'emovit bench import' did not write" in err
    assert {p.name: p.read_bytes() for p in ours.iterdir()} == before
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(folder), "--out", str(tmp_path / "runs"),
                        "--model", "their-vlm")
    assert code == 0, err
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(folder), "--out", str(tmp_path / "runs"),
                        "--model", "their-vlm")                    # an import of ours is replaced by a new one
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "runs" / "their-vlm" / "emoset8")) == ["config.json", "predictions.jsonl"]


def test_nothing_published_holds_a_path_of_this_machine(tmp_path, capsys):
    """Item 10: the publish folder never holds the temporary folder's path or the user's home."""
    checkpoint = tmp_path / "checkpoints" / "emovit-local"
    checkpoint.mkdir(parents=True)
    gold = [LABELS[i % 8] for i in range(16)]
    write_run(tmp_path / "runs" / "emovit" / "emoset8",
              [prediction_line(f"s{i}", "emovit", "emoset8", g, g) for i, g in enumerate(gold)],
              {"model": {"name": "emovit", "adapter": "emovit", "reference": str(checkpoint),
                         "identity": "0123456789abcdef", "path": str(checkpoint)},
               "task": {"name": "emoset8", "labels": list(LABELS)}, "training": {"out": str(tmp_path / "train")}})
    logs = tmp_path / "logs" / "m"
    logs.mkdir(parents=True)
    (logs / "20250101_000000_samples_emoset8.jsonl").write_text("".join(
        json.dumps({"doc_id": f"s{i}", "target": g, "filtered_resps": [g]}) + "\n" for i, g in enumerate(gold)))
    (logs / "20250101_000000_results.json").write_text(json.dumps(
        {"config": {"model_args": f"pretrained={Path.home() / 'models' / 'llava-local'}"}}))
    assert _cli(capsys, "import", "--from", "lmms-eval", str(logs), "--out", str(tmp_path / "runs"))[0] == 0
    assert _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"))[0] == 0
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                        "--dry-run", str(tmp_path / "hub"))
    assert code == 0, err
    published = _files(tmp_path / "hub")
    assert {p.name for p in published} >= {"leaderboard.json", "index.html", "README.md"}
    for path in published:
        data = path.read_bytes()
        for local in (str(tmp_path), str(Path.home()) + "/"):
            assert local.encode() not in data and local.replace("/", "\\/").encode() not in data, (path, local)
    rows = {r["model"]: r for r in json.loads((tmp_path / "hub" / "leaderboard.json").read_text())}
    assert rows["emovit"]["source"] == "runs/emovit/emoset8/predictions.jsonl"
    assert rows["emovit"]["checkpoint"] is None and rows["emovit"]["checkpoint_identity"] == "0123456789abcdef"
    assert "llava-local" in rows                                   # a local checkpoint path names the model by its folder
    # a board whose leaderboard.json names local paths (an older emovit wrote it) is refused, not published
    board = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    board[0]["source"] = str(tmp_path / "runs" / "emovit" / "emoset8" / "predictions.jsonl")
    (tmp_path / "board" / "leaderboard.json").write_text(json.dumps(board))
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                        "--dry-run", str(tmp_path / "hub2"))
    assert code == 2 and "leaderboard.json would publish the local path" in err and len(err.splitlines()) == 1


INJECTIONS = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "[click](javascript:alert(3))",
              "pipe | and\nnewline", '=HYPERLINK("http://evil.example","x")', "+cmd", "@sum(1)", "-2+3"]


def test_markdown_and_csv_hold_names_as_text(tmp_path, capsys):
    """Item 11: no raw HTML, no link, no broken table in leaderboard.md and the card; no formula in the CSV."""
    _runs(tmp_path / "runs" / "foreign", INJECTIONS, task="<b>task</b>|x")
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                        "--no-plots")
    assert code == 0, err
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                        "--dry-run", str(tmp_path / "hub"))
    assert code == 0, err
    for document in (tmp_path / "board" / "leaderboard.md", tmp_path / "hub" / "README.md"):
        text = document.read_text()
        for raw in ("<script", "<img", "<b>", "](javascript:", "\nnewline"):
            assert raw not in text, (document.name, raw)
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| #"))
        table = [line for line in lines[start:start + len(INJECTIONS) + 2]]
        after = lines[start + len(INJECTIONS) + 2:start + len(INJECTIONS) + 3]
        assert all(line.startswith("|") for line in table) and not any(line.startswith("|") for line in after)
        widths = {len(line.replace("\\|", "").split("|")) for line in table}
        assert len(widths) == 1                                    # every row has as many cells as the header
    with open(tmp_path / "board" / "leaderboard.csv", newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "'-2+3" in cells
    rows = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert sorted(r["model"] for r in rows) == sorted(INJECTIONS)       # the data itself is unchanged


@pytest.mark.parametrize("repo", ["org/..", "org/.hidden", "ORG/name--x", "org/" + "n" * 200, "org/x.git"])
def test_repository_ids_the_hub_refuses_are_refused_up_front(tmp_path, capsys, repo):
    """Item 12: ``--repo`` and ``--model-repo`` go through huggingface_hub's own validate_repo_id."""
    _runs(tmp_path / "runs" / "foreign", ["m"])
    assert _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                "--no-plots")[0] == 0
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", repo,
                        "--dry-run", str(tmp_path / "hub"))
    assert code == 2 and f"--repo {repo}: not a repository id the Hub accepts" in err and len(err.splitlines()) == 1
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                        "--model-repo", f"m={repo}", "--dry-run", str(tmp_path / "hub"))
    assert code == 2 and f"--model-repo m={repo}: not a repository id the Hub accepts" in err
    assert not (tmp_path / "hub").exists()


def test_a_symlinked_run_folder_is_read_when_it_stays_inside_and_skipped_with_a_reason_otherwise(tmp_path, capsys):
    """Item 14: the same rule whether the link is found in --runs DIR or the folder is named directly."""
    gold = [LABELS[i % 8] for i in range(8)]
    outside = write_run(tmp_path / "elsewhere" / "far" / "emoset8",
                        [prediction_line(f"s{i}", "far", "emoset8", g, g) for i, g in enumerate(gold)])
    inside = write_run(tmp_path / "runs" / "_store" / "near" / "emoset8",
                       [prediction_line(f"s{i}", "near", "emoset8", g, g) for i, g in enumerate(gold)])
    (tmp_path / "runs" / "near-link").symlink_to(inside.parent, target_is_directory=True)
    (tmp_path / "runs" / "far-link").symlink_to(outside.parent, target_is_directory=True)
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "b1"),
                        "--no-plots")
    assert code == 0
    assert err == (f"warning: skipped {tmp_path / 'runs' / 'far-link'}: a symlink to a place outside "
                   f"{tmp_path / 'runs'} (name the target in --runs to read it)\n")
    assert [r["model"] for r in json.loads((tmp_path / "b1" / "leaderboard.json").read_text())] == ["near"]
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), str(tmp_path / "runs" / "far-link"),
                        "--out", str(tmp_path / "b2"), "--no-plots")
    assert code == 0
    assert sorted(r["model"] for r in json.loads((tmp_path / "b2" / "leaderboard.json").read_text())) == ["far", "near"]


def _vlm_frame(rows: int = 8) -> pd.DataFrame:
    return pd.DataFrame([{"index": i, "question": "q", **dict(zip("ABCDEFGH", LABELS)), "answer": "ABCDEFGH"[i % 8],
                          "category": LABELS[i % 8], "image_id": f"{i:05d}", "prediction": "ABCDEFGH"[i % 8]}
                         for i in range(rows)])


def _xlsx(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": {"strings_to_formulas": False}}) as w:
        frame.to_excel(w, index=False)
    return path


def test_vlmevalkit_model_renames_and_a_work_folder_skips_score_files(tmp_path, capsys):
    """Item 18: ``--model`` names the row whatever the file is called; a whole work folder imports its
    prediction files once and passes over the score files VLMEvalKit's evaluation writes beside them."""
    run = tmp_path / "outputs" / "Qwen2-VL-7B" / "T20250105-143012"
    predictions = _xlsx(run / "Qwen2-VL-7B_EmoSet8.xlsx", _vlm_frame())
    judged = _vlm_frame().assign(hit=1, log="matched")               # the judge's copy has every column too
    _xlsx(run / "Qwen2-VL-7B_EmoSet8_exact_matching_result.xlsx", judged)
    (run / "Qwen2-VL-7B_EmoSet8_acc.csv").write_text('"split","Overall"\n"none","1.0"\n')
    (run / "Qwen2-VL-7B_EmoSet8_score.json").write_text('{"Overall": 1.0}')
    (run.parent / "Qwen2-VL-7B_EmoSet8.xlsx").symlink_to(predictions.relative_to(run.parent))  # as run.py links
    code, out, err = _cli(capsys, "import", "--from", "vlmevalkit", str(tmp_path / "outputs"),
                          "--out", str(tmp_path / "runs"), "--model", "my-qwen")
    assert code == 0, err
    assert out.splitlines()[-1].startswith("1 run(s) -> ")
    [written] = list((tmp_path / "runs").rglob("predictions.jsonl"))
    assert written.parent == tmp_path / "runs" / "my-qwen" / "emoset8"       # EmoSet8 is our emoset8
    config = json.loads((written.parent / "config.json").read_text())
    assert config["imported"]["file_model"] == "Qwen2-VL-7B" and config["model"]["name"] == "my-qwen"
    assert config["imported"]["samples"] == 8


def test_details_configs_of_names_joined_alike_stay_apart(tmp_path, capsys):
    """``a_b`` on ``c`` and ``a`` on ``b_c`` both read ``details_a_b_c``: the card still lists both files."""
    gold = [LABELS[i % 8] for i in range(8)]
    lines = [prediction_line(f"s{i}", model, task, g, g) for model, task in (("a_b", "c"), ("a", "b_c"))
             for i, g in enumerate(gold)]
    write_run(tmp_path / "runs" / "foreign", lines)
    assert _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                "--no-plots")[0] == 0
    assert _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                "--dry-run", str(tmp_path / "hub"))[0] == 0
    from huggingface_hub import DatasetCard

    configs = {c["config_name"]: c["data_files"][0]["path"]
               for c in DatasetCard.load(tmp_path / "hub" / "README.md").data.configs}
    assert sorted(configs.values()) == ["details/a/b_c.parquet", "details/a_b/c.parquet"]


def test_two_models_published_under_one_hub_id_are_refused(tmp_path, capsys):
    """Their results files would overwrite each other: one line naming both, nothing written."""
    _runs(tmp_path / "runs" / "foreign", ["org/vlm", "ORG/vlm", "mine"])
    assert _cli(capsys, "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                "--no-plots")[0] == 0
    code, _, err = _cli(capsys, "publish", "--board", str(tmp_path / "board"), "--repo", "my-org/results",
                        "--dry-run", str(tmp_path / "hub"))
    assert code == 2 and "models 'org/vlm' and 'ORG/vlm' would both be published as ORG/vlm" in err
    assert not (tmp_path / "hub").exists()
