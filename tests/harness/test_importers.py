"""``emovit bench import``: lmms-eval and VLMEvalKit outputs, written here exactly in the layouts those tools
write (file names, folders, fields, quoting, the xlsx writer VLMEvalKit uses), become run folders that the
leaderboard re-scores with our parser; the figures are checked against hand-computed values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from builder.cli import main
from tests.support.runs import LABELS

INSTRUCTION = "Please select the emotion closest to the image ..."


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _board(capsys, runs: Path, out: Path) -> dict[str, dict]:
    code, _, err = _cli(capsys, "leaderboard", "--runs", str(runs), "--out", str(out), "--no-plots")
    assert code == 0, err
    return {(row["model"], row["task"]): row for row in json.loads((out / "leaderboard.json").read_text())}


# --------------------------------------------------------------------------------------------- lmms-eval
#: (doc_id, target, filtered response as the tool logged it, the tool's own accuracy for that doc)
LMMS_DOCS = [
    (0, "awe", "Predict emotion: awe", 1.0),
    (1, "fear", "I'd say fear or sadness", 1.0),        # lax tools call this right; we refuse to guess
    (2, "anger", "anger", 1.0),
    (3, "sadness", None, 0.0),                          # no response at all
    (4, "amusement", "Predict emotion: excitement", 0.0),
    (5, "B", "Predict emotion: awe", 0.0),              # a target that is none of our labels
    (6, "contentment", "Predict emotion: Contentment.", 1.0),
    (7, "disgust", "disgust", 1.0),
]
# By hand: written 7 (doc 5 quarantined); right: 0, 2, 6, 7 -> 4/7; parse failures: 1, 3 -> 2/7;
# rules: exact 0, 4, 6; single_label 2, 7; failure 1, 3.


def _lmms_v04(root: Path, *, flattened: bool = False) -> Path:
    """lmms-eval >= 0.3 layout; ``flattened``: later releases write filtered_resps as the bare string."""
    model = "lmms-lab/llava-onevision-qwen2-0.5b-ov" if not flattened else "Qwen/Qwen2-VL-2B-Instruct"
    folder = root / model.replace("/", "__")
    folder.mkdir(parents=True)
    date = "20250105_143012" if not flattened else "20250611_090501"
    lines = []
    for doc_id, target, answer, accuracy in LMMS_DOCS:
        filtered = ([] if answer is None else [answer]) if not flattened else ("" if answer is None else answer)
        record = {"doc_id": doc_id, "target": target, "filtered_resps": filtered, "doc_hash": f"{doc_id:064x}",
                  "input": INSTRUCTION, "accuracy": accuracy, "parse_failure": 0.0}
        if doc_id == 7:
            record["resps"] = [["disgust\n"]] if not flattened else "disgust\n"
        lines.append(json.dumps(record, ensure_ascii=False))
    (folder / f"{date}_samples_emoset8.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = {
        "results": {"emoset8": {"alias": "emoset8", "accuracy,none": 0.75, "accuracy_stderr,none": "N/A"}},
        "group_subtasks": {"emoset8": []},
        "configs": {"emoset8": {"task": "emoset8", "dataset_path": "parquet", "output_type": "generate_until"}},
        "versions": {"emoset8": "Yaml"}, "n-shot": {"emoset8": 0},
        "higher_is_better": {"emoset8": {"accuracy": True}},
        "n-samples": {"emoset8": {"original": 8, "effective": 8}},
        "config": {"model": "llava_onevision", "model_args": f"pretrained={model},conv_template=qwen_1_5",
                   "batch_size": "1", "device": "cuda:0", "limit": None, "gen_kwargs": ""},
        "git_hash": "5a3f2c1", "date": date, "task_hashes": {"emoset8": "c" * 64},
        "model_source": "llava_onevision", "model_name": model, "model_name_sanitized": model.replace("/", "__"),
    }
    (folder / f"{date}_results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return folder


def _lmms_v023(root: Path) -> Path:
    """lmms-eval <= 0.2.3: one <task>.json per task with args, model_configs and logs (sorted by doc_id)."""
    folder = root / "0105_1430_llava_v1.5_llava_model_args_7f3a1b"
    folder.mkdir(parents=True)
    logs = []
    for doc_id, target, answer, accuracy in sorted(LMMS_DOCS, key=lambda d: d[0]):
        logs.append({"doc_id": doc_id, "doc": {"id": f"img{doc_id}", "question": INSTRUCTION},
                     "target": target, "arguments": [INSTRUCTION, {"max_new_tokens": 12, "temperature": 0}],
                     "resps": [[answer or ""]], "filtered_resps": [answer or ""] if answer else [],
                     "doc_hash": "d" * 64, "prompt_hash": "e" * 64, "target_hash": "f" * 64, "accuracy": accuracy})
    document = {"args": {"model": "llava", "model_args": "pretrained=liuhaotian/llava-v1.5-7b", "tasks": "emoset8",
                         "batch_size": "1", "log_samples": True, "output_path": str(root)},
                "model_configs": {"task": "emoset8", "dataset_path": "parquet", "test_split": "test",
                                  "output_type": "generate_until"},
                "logs": logs, "time": "0105_1430"}
    (folder / "emoset8.json").write_text(json.dumps(document, indent=4), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps({"results": {"emoset8": {"accuracy,none": 0.75}}}, indent=4))
    return folder


def test_lmms_eval_outputs_of_every_layout_are_rescored_by_our_parser(tmp_path, capsys):
    logs = tmp_path / "logs"
    _lmms_v04(logs)
    _lmms_v04(logs, flattened=True)
    _lmms_v023(logs)
    code, out, err = _cli(capsys, "import", "--from", "lmms-eval", str(logs), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    assert out.splitlines()[-1].startswith("3 run(s) -> ")
    rows = _board(capsys, tmp_path / "runs", tmp_path / "board")
    assert sorted(rows) == [("Qwen/Qwen2-VL-2B-Instruct", "emoset8"), ("liuhaotian/llava-v1.5-7b", "emoset8"),
                            ("lmms-lab/llava-onevision-qwen2-0.5b-ov", "emoset8")]
    for row in rows.values():
        assert (row["n"], row["accuracy"], row["parse_failure_rate"]) == (7, 4 / 7, 2 / 7)
        assert row["parse_rules"] == {"exact": 3, "single_label": 2, "failure": 2, "unclosed_reasoning": 0}
        assert row["imported_from"] == "lmms-eval" and row["mode"] == "generate"
        assert row["labels"] == list(LABELS)                                # our emoset8 task's labels
        assert row["per_class"]["fear"]["recall"] == 0.0 and row["per_class"]["awe"]["recall"] == 1.0
    v04 = tmp_path / "runs" / "lmms-lab__llava-onevision-qwen2-0.5b-ov" / "emoset8"
    config = json.loads((v04 / "config.json").read_text())
    assert config["imported"]["samples"] == 8 == config["imported"]["written"] + config["imported"]["quarantined"]
    assert config["imported"]["model_args"].startswith("pretrained=lmms-lab/llava-onevision-qwen2-0.5b-ov")
    assert [Path(f["path"]).name for f in config["imported"]["files"]] == [
        "20250105_143012_samples_emoset8.jsonl", "20250105_143012_results.json"]
    [quarantined] = [json.loads(line) for line in (v04 / "quarantine.jsonl").read_text().splitlines()]
    assert quarantined["id"] == "5" and "'B' is none of the task's labels" in quarantined["reason"]
    assert quarantined["source"].endswith("20250105_143012_samples_emoset8.jsonl:6")
    lines = [json.loads(line) for line in (v04 / "predictions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["0", "1", "2", "3", "4", "6", "7"]
    assert lines[3]["raw"] == "" and lines[3]["pred"] is None                # the empty response
    v023 = json.loads((tmp_path / "runs" / "liuhaotian__llava-v1.5-7b" / "emoset8" / "predictions.jsonl")
                      .read_text().splitlines()[0])
    assert v023["id"] == "0" and v023["raw"] == "Predict emotion: awe"
    mcnemar = rows[("liuhaotian/llava-v1.5-7b", "emoset8")]["mcnemar_detail"]
    assert {v["n"] for v in mcnemar.values()} == {7}                          # the same doc ids pair up


def test_lmms_eval_task_can_be_filed_under_one_of_ours_and_model_named(tmp_path, capsys):
    folder = _lmms_v04(tmp_path / "logs")
    samples = next(folder.glob("*_samples_*.jsonl"))
    renamed = samples.with_name(samples.name.replace("emoset8", "emotion_cls"))
    samples.rename(renamed)
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(renamed), "--out", str(tmp_path / "runs"),
                        "--task", "emoset8", "--model", "my-vlm")
    assert code == 0, err
    config = json.loads((tmp_path / "runs" / "my-vlm" / "emoset8" / "config.json").read_text())
    assert config["task"]["name"] == "emoset8" and config["task"]["foreign_name"] == "emotion_cls"
    assert config["model"] == {"name": "my-vlm"}


def test_import_refusals_are_one_line(tmp_path, capsys):
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(tmp_path / "notes.json"),
                          "--out", str(tmp_path / "runs"))
    assert code == 2 and len(err.splitlines()) == 1 and "neither an lmms-eval samples file" in err
    folder = _lmms_v04(tmp_path / "logs")
    samples = next(folder.glob("*_samples_*.jsonl"))
    samples.write_text(samples.read_text() + '{"doc_id": 9, "target": "awe", "filtered_r')
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(samples), "--out", str(tmp_path / "runs"))
    assert code == 2 and len(err.splitlines()) == 1 and f"{samples}:9: not valid JSON (Unterminated string" in err
    ranked = tmp_path / "mc" / "m"
    ranked.mkdir(parents=True)
    (ranked / "20250101_000000_samples_mmbench.jsonl").write_text(json.dumps(
        {"doc_id": 0, "target": "1", "filtered_resps": [[-1.5, False], [-0.2, True]]}) + "\n")
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(tmp_path / "mc"), "--out", str(tmp_path / "r2"))
    assert code == 2 and "filtered_resps is not a generated answer" in err
    code, _, err = _cli(capsys, "import", "--from", "lmms-eval", str(tmp_path / "mc"), "--out", str(tmp_path / "r3"),
                        "--task", "no-such-task")
    assert code == 2 and "--task no-such-task: not one of our tasks" in err


# --------------------------------------------------------------------------------------------- VLMEvalKit
#: (index, answer letter or None, prediction or None)
VLM_ROWS = [
    (0, "C", "C"),                                              # letter only -> awe, right
    (1, "A", "(A)"),                                            # letter only -> amusement, right
    (2, "H", "H. sadness"),                                     # right
    (3, "G", "B. anger"),                                       # wrong (the words count)
    (4, "B", None),                                             # no prediction: parse failure
    (5, "D", "The image feels calm; contentment."),             # right
    (6, "E", "disgust or anger"),                               # two labels: parse failure
    (7, "F", "F"),                                              # letter only -> excitement, right
    (8, None, "A"),                                             # no answer: quarantined
    (9, "A", "a"),                                              # a lowercase 'a' is not option A: failure
]
# By hand: written 9; right: 0, 1, 2, 5, 7 -> 5/9; parse failures 4, 6, 9 -> 3/9; letters mapped: 0, 1, 7.


def _vlm_frame() -> pd.DataFrame:
    records = []
    for index, answer, prediction in VLM_ROWS:
        record = {"index": index, "question": "Please select the emotion closest to the image.",
                  **{letter: label for letter, label in zip("ABCDEFGH", LABELS)},
                  "answer": answer, "category": LABELS["ABCDEFGH".index(answer)] if answer else None,
                  "image_id": f"img{index:03d}", "prediction": prediction}
        records.append(record)
    return pd.DataFrame(records)


def _vlm_write(path: Path, frame: pd.DataFrame) -> Path:
    """Written as VLMEvalKit's dump() writes each format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="xlsxwriter",
                            engine_kwargs={"options": {"strings_to_formulas": False}}) as writer:
            frame.to_excel(writer, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
    else:
        path.write_text(json.dumps(frame.to_dict("records"), indent=4, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".xlsx", ".tsv", ".json"])
def test_vlmevalkit_predictions_are_rescored_with_letters_mapped_to_options(tmp_path, capsys, suffix):
    work = tmp_path / "outputs"
    path = _vlm_write(work / "Qwen2-VL-7B_Instruct" / "T20250105_Gd41c2a" / f"Qwen2-VL-7B_Instruct_EmoSet8{suffix}",
                      _vlm_frame())
    code, out, err = _cli(capsys, "import", "--from", "vlmevalkit", str(path), "--out", str(tmp_path / "runs"),
                          "--task", "emoset8")
    assert code == 0, err
    assert "10 samples -> 9 predictions, 1 quarantined" in out
    rows = _board(capsys, tmp_path / "runs", tmp_path / "board")
    row = rows[("Qwen2-VL-7B_Instruct", "emoset8")]
    assert (row["n"], row["accuracy"], row["parse_failure_rate"]) == (9, 5 / 9, 3 / 9)
    assert row["parse_rules"] == {"exact": 0, "single_label": 6, "failure": 3, "unclosed_reasoning": 0}
    assert row["per_class"]["fear"]["recall"] == 0.0 and row["confusion"]["matrix"][6][1] == 1   # fear -> anger
    run = tmp_path / "runs" / "Qwen2-VL-7B_Instruct" / "emoset8"
    config = json.loads((run / "config.json").read_text())
    assert config["imported"]["letters_mapped"] == 3 and config["imported"]["dataset"] == "EmoSet8"
    assert config["task"]["foreign_name"] == "EmoSet8"
    lines = {line["id"]: line for line in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}
    # every row names its image once (as our export's rows do): the image id is the sample id
    assert config["imported"]["ids"] == "image_id"
    assert lines["img000"]["raw"] == "awe" and lines["img000"]["image_id"] == "img000" and lines["img009"]["raw"] == "a"
    assert lines["img004"]["raw"] == "" and "img008" not in lines
    [quarantined] = map(json.loads, (run / "quarantine.jsonl").read_text().splitlines())
    assert quarantined["id"] == "img008" and quarantined["reason"] == "no gold answer"


def test_vlmevalkit_without_task_takes_options_as_labels_and_folder_as_model(tmp_path, capsys):
    work = tmp_path / "outputs"
    frame = _vlm_frame()
    frame["image_id"] = ["shared.jpg"] * 5 + ["other.jpg"] * 5                   # several questions per image
    _vlm_write(work / "InternVL2-8B" / "InternVL2-8B_My_Emotion_Set.xlsx", frame)
    (work / "InternVL2-8B" / "InternVL2-8B_My_Emotion_Set_acc.csv").write_text("split,Overall\nnone,0.5\n")
    code, _, err = _cli(capsys, "import", "--from", "vlmevalkit", str(work), "--out", str(tmp_path / "runs"))
    assert code == 0, err
    run = tmp_path / "runs" / "InternVL2-8B" / "My_Emotion_Set"
    config = json.loads((run / "config.json").read_text())
    assert config["task"]["labels"] == list(LABELS) and config["model"]["name"] == "InternVL2-8B"
    assert config["imported"]["ids"] == "index" and config["imported"]["written"] == 9
    lines = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [(x["id"], x["image_id"]) for x in lines[:2]] == [("0", "shared.jpg"), ("1", "shared.jpg")]
    code, _, err = _cli(capsys, "import", "--from", "vlmevalkit", str(tmp_path / "elsewhere.xlsx"),
                        "--out", str(tmp_path / "r2"))
    assert code == 2 and "no such file or folder" in err
    loose = _vlm_write(tmp_path / "loose" / "A_B_C.tsv", _vlm_frame())
    code, _, err = _cli(capsys, "import", "--from", "vlmevalkit", str(loose), "--out", str(tmp_path / "r3"))
    assert code == 2 and "cannot tell the model from the dataset in 'A_B_C': pass --task" in err
    code, _, err = _cli(capsys, "import", "--from", "vlmevalkit", str(loose), "--out", str(tmp_path / "r3"),
                        "--model", "A_B")
    assert code == 0 and (tmp_path / "r3" / "A_B" / "C" / "predictions.jsonl").is_file()
