"""``emovit bench export --to lmms-eval | vlmevalkit``: our benchmark inside the other harnesses.

The exports hold exactly the samples our ``emoset8`` task scores (read from the task file and the sample
builder). The VLMEvalKit TSV round-trips through pandas and its base64 decodes to the exported image bytes; the
lmms-eval task YAML has the keys lmms-eval needs, its ``utils.py`` runs on rows of the exported parquet (read
as lmms-eval reads it) and parses answers exactly as our parser does; each harness's answers come back
through ``bench import`` and are scored by hand-checked rules. When lmms-eval is installed, its own
``TaskManager`` loads the folder. ``emovit export --format lmms-eval | vlmevalkit``, where the exports lived
before, still writes the same bytes and says where the command moved.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import io
import json
import random
from pathlib import Path

import datasets
import pandas as pd
import pytest
import yaml
from PIL import Image

from builder.cli import main
from schemas.protocol import ALPHABETICAL_EMOTIONS, CATEGORICAL_ANSWER_PREFIX, CATEGORICAL_INSTRUCTION

LETTERS = "ABCDEFGH"


def _images_by_id(build: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """Independently of the exporters: each test image's bytes and emotion, first row per image id."""
    split = datasets.load_from_disk(str(build))["test"].cast_column("image", datasets.Image(decode=False))
    names = split.features["emotion"].names
    found, gold = {}, {}
    for row in split:
        if row["image_id"] not in found:
            image = row["image"]
            found[row["image_id"]] = image["bytes"] if image["bytes"] is not None else Path(image["path"]).read_bytes()
            gold[row["image_id"]] = names[row["emotion"]]
    return found, gold


@pytest.fixture(scope="module")
def vlmevalkit_export(built_all, tmp_path_factory):
    build, _ = built_all
    out = tmp_path_factory.mktemp("vlm") / "export"
    assert main(["bench", "export", "--to", "vlmevalkit", "--dataset", str(build), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def lmms_export(built_all, tmp_path_factory):
    build, _ = built_all
    out = tmp_path_factory.mktemp("lmms") / "task"
    assert main(["bench", "export", "--to", "lmms-eval", "--dataset", str(build), "--out", str(out)]) == 0
    return out


def _utils(folder: Path):
    spec = importlib.util.spec_from_file_location(f"exported_utils_{abs(hash(folder))}", folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------- one definition
def test_the_exports_hold_the_samples_our_task_scores(built_all, vlmevalkit_export, lmms_export):
    """Ids, gold labels, question and options come from the emoset8 task file and the sample builder, the same
    samples a run of ours on emoset8 scores, in the same order."""
    from benchmarks.data.samples import task_samples
    from benchmarks.spec.task import load_task

    build, _ = built_all
    task = load_task("emoset8")
    samples, _ = task_samples(task, {"build": str(build)})
    frame = pd.read_csv(vlmevalkit_export / "EmoSet8.tsv", sep="\t")
    assert list(frame["image_id"]) == [s.id for s in samples] and list(frame["category"]) == [s.gold for s in samples]
    assert [list(row) for row in frame[list(LETTERS)].itertuples(index=False)] == [list(task.labels)] * len(samples)
    docs = datasets.load_dataset("parquet", data_files=str(lmms_export / "emoset8_test.parquet"), split="train")
    assert docs["id"] == [s.id for s in samples] and docs["answer"] == [s.gold for s in samples]
    assert set(docs["question"]) == {s.instruction for s in samples} == {task.instruction}
    assert all(options == list(task.labels) for options in docs["options"])


def test_emovit_export_still_writes_the_harness_exports_and_says_where_they_moved(built_all, vlmevalkit_export,
                                                                                 lmms_export, tmp_path, capsys):
    build, _ = built_all
    capsys.readouterr()
    assert main(["export", "--dataset", str(build), "--out", str(tmp_path / "vlm"), "--format", "vlmevalkit"]) == 0
    err = capsys.readouterr().err
    assert "emovit export --format vlmevalkit has moved to 'emovit bench export --to vlmevalkit'" in err
    assert (tmp_path / "vlm" / "EmoSet8.tsv").read_bytes() == (vlmevalkit_export / "EmoSet8.tsv").read_bytes()
    assert main(["export", "--format=lmms-eval", "--dataset", str(build), "--out", str(tmp_path / "lmms"),
                 "--name", "emoset8"]) == 0
    assert "has moved to 'emovit bench export --to lmms-eval'" in capsys.readouterr().err
    assert (tmp_path / "lmms" / "utils.py").read_bytes() == (lmms_export / "utils.py").read_bytes()
    assert datasets.load_dataset("parquet", data_files=str(tmp_path / "lmms" / "emoset8_test.parquet"),
                                 split="train").to_list() == \
        datasets.load_dataset("parquet", data_files=str(lmms_export / "emoset8_test.parquet"), split="train").to_list()


def test_an_export_of_a_build_with_other_labels_is_refused_by_the_task(built_all, tmp_path, capsys):
    """The task lists its labels: a split holding another emotion is one line, as a run of the task would say."""
    import shutil

    build, _ = built_all
    copy = tmp_path / "build"
    shutil.copytree(build, copy)
    test = datasets.load_from_disk(str(build))["test"]
    relabelled = test.cast_column("emotion", datasets.ClassLabel(names=[*test.features["emotion"].names[:-1], "joy"]))
    shutil.rmtree(copy / "test")
    relabelled.save_to_disk(str(copy / "test"))
    for harness in ("vlmevalkit", "lmms-eval"):
        assert main(["bench", "export", "--to", harness, "--dataset", str(copy), "--out", str(tmp_path / harness)]) == 2
        assert capsys.readouterr().err.strip() == (f"emovit bench: error: {copy}: split test has emotions joy that task "
                                                   "emoset8 does not list")
        assert not (tmp_path / harness).exists()


# --------------------------------------------------------------------------------------------- VLMEvalKit
def test_vlmevalkit_tsv_round_trips_and_its_images_are_the_exported_bytes(built_all, vlmevalkit_export):
    build, _ = built_all
    images, gold = _images_by_id(build)
    frame = pd.read_csv(vlmevalkit_export / "EmoSet8.tsv", sep="\t")        # as VLMEvalKit's load() reads it
    assert list(frame.columns) == ["index", "image", "image_id", "question", *LETTERS, "answer", "category"]
    assert list(frame["index"]) == list(range(len(images))) == list(range(24))
    assert list(frame["image_id"]) == list(images)                          # split order, one row per image
    for row in frame.to_dict("records"):
        assert base64.b64decode(row["image"]) == images[row["image_id"]]
        assert Image.open(io.BytesIO(base64.b64decode(row["image"]))).size == (16, 16)
        assert [row[letter] for letter in LETTERS] == list(ALPHABETICAL_EMOTIONS)
        assert row[row["answer"]] == row["category"] == gold[row["image_id"]]
        assert row["question"] == "Please select the emotion closest to the image."
    assert frame["category"].value_counts().to_dict() == {label: 3 for label in ALPHABETICAL_EMOTIONS}
    # VLMEvalKit's rule for an unknown dataset: a question column, A and B, and images -> custom MCQ
    assert "question" in frame and "A" in frame and "B" in frame and "image" in frame
    marker = json.loads((vlmevalkit_export / "export.json").read_text())
    assert marker["format"] == "vlmevalkit" and marker["files"] == ["EmoSet8.tsv"]


def test_vlmevalkit_predictions_on_our_tsv_come_back_through_import(vlmevalkit_export, tmp_path, capsys):
    """VLMEvalKit's prediction file = the TSV without image, plus prediction; scored by our rules."""
    frame = pd.read_csv(vlmevalkit_export / "EmoSet8.tsv", sep="\t").drop(columns=["image"])
    answers = []
    for i, row in enumerate(frame.to_dict("records")):
        wrong = LETTERS[(LETTERS.index(row["answer"]) + 1) % 8]
        answers.append([row["answer"], f"{row['answer']}. {row['category']}", wrong, "I am not sure."][i % 4])
    frame["prediction"] = answers
    path = tmp_path / "outputs" / "TinyVLM" / "TinyVLM_EmoSet8.xlsx"
    path.parent.mkdir(parents=True)
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": {"strings_to_formulas": False}}) as w:
        frame.to_excel(w, index=False)
    assert main(["bench", "import", "--from", "vlmevalkit", str(path), "--out", str(tmp_path / "runs"),
                 "--task", "emoset8"]) == 0
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                 "--no-plots"]) == 0
    capsys.readouterr()
    [row] = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert (row["n"], row["accuracy"], row["parse_failure_rate"]) == (24, 12 / 24, 6 / 24)   # by hand: 2 of 4 right
    predictions = [json.loads(line) for line in
                   (tmp_path / "runs" / "TinyVLM" / "emoset8" / "predictions.jsonl").read_text().splitlines()]
    assert [p["image_id"] for p in predictions] == list(frame["image_id"])


# --------------------------------------------------------------------------------------------- lmms-eval
def _function(loader, node):
    return ("!function", loader.construct_scalar(node))


def _task_yaml(folder: Path) -> dict:
    loader = type("TaskLoader", (yaml.SafeLoader,), {})
    loader.add_constructor("!function", _function)
    return yaml.load((folder / "emoset8.yaml").read_text(), Loader=loader)      # a SafeLoader with one tag more


def test_lmms_eval_task_yaml_has_what_lmms_eval_needs(lmms_export):
    config = _task_yaml(lmms_export)
    data_file = Path(config["dataset_kwargs"]["data_files"]["test"])
    assert config["task"] == "emoset8" and config["dataset_path"] == "parquet" and config["test_split"] == "test"
    assert data_file.is_absolute() and data_file == lmms_export.resolve() / "emoset8_test.parquet"
    assert data_file.is_file()
    assert config["output_type"] == "generate_until"
    for key in ("doc_to_visual", "doc_to_text", "doc_to_target", "process_results"):
        assert config[key] == ("!function", f"utils.{key}")
    assert config["metric_list"] == [
        {"metric": "accuracy", "aggregation": "mean", "higher_is_better": True},
        {"metric": "parse_failure", "aggregation": "mean", "higher_is_better": False}]
    assert config["generation_kwargs"]["do_sample"] is False and config["generation_kwargs"]["max_new_tokens"] > 4


def test_lmms_eval_utils_run_on_the_exported_parquet(built_all, lmms_export):
    build, _ = built_all
    images, gold = _images_by_id(build)
    utils = _utils(lmms_export)
    tree = ast.parse((lmms_export / "utils.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | \
        {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"re"}                                                  # self-contained: runs without emovit
    docs = datasets.load_dataset("parquet", data_files={"test": str(lmms_export / "emoset8_test.parquet")},
                                 split="test")                                 # as lmms-eval's download() loads it
    assert len(docs) == 24 and docs["id"] == list(images)
    for doc in docs:
        [visual] = utils.doc_to_visual(doc)
        expected = Image.open(io.BytesIO(images[doc["id"]])).convert("RGB")
        assert visual.size == expected.size and list(visual.getdata()) == list(expected.getdata())
        assert utils.doc_to_text(doc) == CATEGORICAL_INSTRUCTION
        assert utils.doc_to_text(doc, {"pre_prompt": "<image>\n", "post_prompt": " "}) == \
            f"<image>\n{CATEGORICAL_INSTRUCTION} "
        assert utils.doc_to_target(doc) == gold[doc["id"]]
        other = next(label for label in ALPHABETICAL_EMOTIONS if label != doc["answer"])
        assert utils.process_results(doc, [f"Predict emotion: {doc['answer']}"]) == \
            {"accuracy": 1.0, "parse_failure": 0.0}
        assert utils.process_results(doc, [other]) == {"accuracy": 0.0, "parse_failure": 0.0}
        assert utils.process_results(doc, [f"{doc['answer']} or {other}"]) == {"accuracy": 0.0, "parse_failure": 1.0}


ANSWERS = ["Predict emotion: awe", "  predict emotion:AWE! ", "Predict emotion: awe.", "Predict emotion: awesome",
           "awe", "Awe, definitely awe.", "awe and fear", "awesome", "The image evokes contentment.",
           "Predict emotion: sadness and anger", "", "none of these", "excitement!!!", "amusement/anger",
           "predict emotion : disgust", "Predict emotion:\nfear", "FEAR", "not sad, just sadness", "anger-awe",
           "Predict emotion: joy", "contentment contentment contentment", "predictemotion: awe"]


def test_exported_parser_agrees_with_ours(lmms_export):
    from schemas.protocol import parse_answer

    utils = _utils(lmms_export)
    assert (lmms_export / "utils.py").read_text() == \
        Path(importlib.util.find_spec("benchmarks.interop.exporters.lmms_eval_utils").origin).read_text()
    assert utils.ANSWER_PREFIX == CATEGORICAL_ANSWER_PREFIX
    rng = random.Random(0)
    words = [*ALPHABETICAL_EMOTIONS, "Predict", "emotion:", "the", "awesome", "sad", "!", ".", "fearful", "AWE",
             "Contentment.", ",", "and", "\n"]
    fuzz = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(400)]
    for labels in (ALPHABETICAL_EMOTIONS, ("positive", "negative"), ("joy", "fear", "sadness", "surprise")):
        for text in [*ANSWERS, *fuzz]:
            ours = parse_answer(text, labels)
            assert utils.parse_answer(text, labels) == (ours.label, ours.rule), text


def test_lmms_eval_samples_on_our_task_come_back_through_import(lmms_export, tmp_path, capsys):
    """lmms-eval's samples file for the exported task (as its tracker writes it) re-scored by our parser."""
    utils = _utils(lmms_export)
    docs = datasets.load_dataset("parquet", data_files=str(lmms_export / "emoset8_test.parquet"), split="train")
    folder = tmp_path / "logs" / "org__tiny-vlm"
    folder.mkdir(parents=True)
    lines = []
    for doc_id, doc in enumerate(docs):
        answer = [f"Predict emotion: {doc['answer']}", "I can't say", "anger" if doc["answer"] != "anger" else "awe"][
            doc_id % 3]
        metrics = utils.process_results(doc, [answer])
        lines.append(json.dumps({"doc_id": doc_id, "target": utils.doc_to_target(doc), "filtered_resps": [answer],
                                 "doc_hash": "0" * 64, "input": utils.doc_to_text(doc), **metrics}))
    (folder / "20250101_120000_samples_emoset8.jsonl").write_text("\n".join(lines) + "\n")
    config = _task_yaml(lmms_export)                  # lmms-eval records the task's config (dump_config) ...
    (folder / "20250101_120000_results.json").write_text(json.dumps(
        {"results": {"emoset8": {"accuracy,none": 1 / 3}}, "config": {"model_args": "pretrained=org/tiny-vlm"},
         "configs": {"emoset8": {k: v for k, v in config.items() if not isinstance(v, tuple)}},
         "model_name": "org/tiny-vlm"}))
    assert main(["bench", "import", "--from", "lmms-eval", str(tmp_path / "logs"), "--out", str(tmp_path / "runs")]) == 0
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "board"),
                 "--no-plots"]) == 0
    capsys.readouterr()
    [row] = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert (row["model"], row["task"], row["n"]) == ("org/tiny-vlm", "emoset8", 24)
    assert row["accuracy"] == 8 / 24 and row["parse_failure_rate"] == 8 / 24
    # ... so each doc_id takes the exported row's sample id: the run pairs with ours image by image
    lines = [json.loads(line) for line in
             (tmp_path / "runs" / "org__tiny-vlm" / "emoset8" / "predictions.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == docs["id"] and [line["image_id"] for line in lines] == docs["image_id"]


def test_lmms_eval_taskmanager_loads_the_folder(lmms_export):
    """Skipped unless lmms-eval is installed (it is not a dependency)."""
    pytest.importorskip("lmms_eval", reason="lmms-eval is not installed (not a dependency of emovit)")
    from lmms_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(lmms_export), include_defaults=False)
    assert "emoset8" in manager.all_tasks
    loaded = manager.load_task_or_group(["emoset8"])
    task = next(iter(loaded.values()))
    docs = list(task.test_docs())
    assert len(docs) == 24
    assert task.doc_to_text(docs[0]) == CATEGORICAL_INSTRUCTION
    assert task.doc_to_target(docs[0]) == docs[0]["answer"]
    assert task.process_results(docs[0], [f"Predict emotion: {docs[0]['answer']}"]) == \
        {"accuracy": 1.0, "parse_failure": 0.0}
    assert task.aggregation()["accuracy"]([1.0, 0.0]) == 0.5
