"""Held-out tasks: task files, variants, stratified subsets, polarity maps with exclusions, samples from a
dataset as it ships, and one-line errors for a bad root."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.data.samples import heldout_samples, rooted_tasks, stratified_subset
from benchmarks.run.runner import derive_records
from benchmarks.spec.config import load_config
from benchmarks.spec.task import load_task
from builder.cli import main
from schemas.errors import UsageError
from schemas.heldout import EMOTION6, MIKELS, TWITTER, UNBIASEDEMO, WEBEMO7, WEBEMO25
from schemas.protocol import CATEGORICAL_INSTRUCTION
from tests.support.images import write_jpeg

HEADER = ("[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t[prob. joy]\t"
          "[prob. sadness]\t[prob. surprise]\t[prob. neutral]")


def emotion6_tree(root: Path, per_class: dict[str, int]) -> Path:
    """An Emotion6 tree written by hand: ``per_class[emotion]`` images, one ground-truth line each."""
    lines = [HEADER]
    seed = 0
    for emotion, count in per_class.items():
        for number in range(1, count + 1):
            seed += 1
            write_jpeg(root / "images" / emotion / f"{number}.jpg", seed=seed)
            probs = ["0"] * 7
            probs[EMOTION6.index(emotion)] = "1"
            lines.append("\t".join([f"{emotion}/{number}.jpg", "5", "5", *probs]))
    (root / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    return root


def test_task_files_ask_emovits_instruction_over_each_datasets_own_labels():
    expected = {"emotion6": EMOTION6, "fi8": MIKELS, "artphoto": MIKELS, "abstract": MIKELS,
                "unbiasedemo": UNBIASEDEMO, "twitter1": TWITTER, "webemo25": WEBEMO25, "webemo7": WEBEMO7}
    for name, labels in expected.items():
        task = load_task(name)
        assert task.source == "heldout" and task.labels == labels, name
        words = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        assert task.questions() == {None: "Please select the emotion closest to the image from the following "
                                          f"options:{words} (Do not provide answers outside of the candidates "
                                          "options.) Please answer in the following format:  Predict emotion:"}
    assert load_task("fi8").questions()[None] == CATEGORICAL_INSTRUCTION
    assert load_task("twitter1").variant == 5 and load_task("webemo7").label_field == "label7"
    assert load_task("fi2").map == load_task("emoset2").map and load_task("fi2").derive_from == "fi8"
    webemo2 = load_task("webemo2")
    assert webemo2.derive_from == "webemo7" and webemo2.map["surprise"] is None
    assert sorted(k for k, v in webemo2.map.items() if v == "positive") == ["joy", "love"]
    assert sorted(k for k, v in webemo2.map.items() if v == "negative") == ["anger", "confusion", "fear", "sadness"]


@pytest.mark.parametrize("body, message", [
    ("name: x\nsource: heldout\ndataset: mnist\nlabels: [a]\ninstruction: q\n", "needs 'dataset', one of emotion6"),
    ("name: x\nsource: heldout\ndataset: emotion6\nlabels: [anger, joy]\ninstruction: q\n",
     "'labels' must name every emotion6 class \\(missing disgust, fear, sadness, surprise\\)"),
    ("name: x\nsource: heldout\ndataset: twitter1\nvariant: 2\nlabels: [negative, positive]\ninstruction: q\n",
     "'variant' of twitter1 is one of 5, 4, 3"),
    ("name: x\nsource: heldout\ndataset: fi\nlabel_field: label7\nlabels: [a]\ninstruction: q\n",
     "'label_field' is 'label' \\(or 'label7' for webemo\\)"),
])
def test_bad_heldout_task_files(tmp_path, body, message):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    with pytest.raises(UsageError, match=message):
        load_task(path)


def test_stratified_subset_keeps_each_labels_share():
    labels = ["a"] * 6 + ["b"] * 3 + ["c"]
    # quotas floor(5*6/10)=3, floor(5*3/10)=1, floor(5*1/10)=0; the last place goes to the largest remainder,
    # b and c tie at 5/10 and b is the larger label: a 3, b 2, c 0
    chosen = stratified_subset(labels, 5, seed=0)
    assert [labels[i] for i in chosen].count("a") == 3 and [labels[i] for i in chosen].count("b") == 2
    assert chosen == sorted(chosen) and len(set(chosen)) == 5
    assert stratified_subset(labels, 5, seed=0) == chosen
    assert {tuple(stratified_subset(labels, 5, seed=s)) for s in range(6)} != {tuple(chosen)}
    assert stratified_subset(labels, 20, seed=0) == list(range(10))
    assert [labels[i] for i in stratified_subset(labels, 3, seed=1)].count("a") == 2  # 1.8 -> 1 (+1), 0.9 -> 0 (+1)


def test_derived_polarity_leaves_out_gold_without_polarity():
    task = load_task("webemo2")
    base = [{"id": "a", "image_id": "a", "model": "m", "task": "webemo7", "gold": "joy", "pred": "surprise", "raw": None,
             "scores": {"joy": -2.0, "surprise": -1.0, "anger": -3.0, "love": -2.5, "confusion": -9.0, "fear": -9.0,
                        "sadness": -9.0}},
            {"id": "b", "image_id": "b", "model": "m", "task": "webemo7", "gold": "surprise", "pred": "joy",
             "raw": None, "scores": {"joy": -1.0, "surprise": -2.0, "anger": -3.0, "love": -4.0, "confusion": -5.0,
                                     "fear": -6.0, "sadness": -7.0}},
            {"id": "c", "image_id": "c", "model": "m", "task": "webemo7", "gold": "confusion", "pred": "surprise",
             "raw": "Predict emotion: surprise", "scores": None}]
    records = derive_records(task, base)
    assert [r["id"] for r in records] == ["a", "c"]  # b's gold (surprise) has no polarity
    # a: surprise predicted; among mapped labels joy (-2.0) beats love (-2.5) and anger (-3.0): positive
    assert records[0]["gold"] == "positive" and records[0]["pred"] == "positive"
    assert records[0]["scores"] == {"positive": -2.0, "negative": -3.0}
    assert records[1]["gold"] == "negative" and records[1]["pred"] is None  # generated "surprise": unreadable


def test_variants_rename_results_and_skip_missing_drops_unrooted_tasks():
    tasks = [load_task(n) for n in ("emotion6", "twitter1", "webemo7", "webemo2")]
    renamed = rooted_tasks(tasks, {"variants": {"twitter1": 4, "webemo": "train"}})
    assert [t.name for t in renamed] == ["emotion6", "twitter1-4", "webemo7-train", "webemo2-train"]
    assert renamed[1].variant == 4 and renamed[3].derive_from == "webemo7-train"
    assert [t.name for t in rooted_tasks(tasks, {"variants": {"twitter1": 5}})][1] == "twitter1"
    notes = []
    kept = rooted_tasks(tasks, {"roots": {"webemo": "/data/WEBEmo"}, "skip_missing": True}, notes.append)
    assert [t.name for t in kept] == ["webemo7", "webemo2"]
    assert notes == ["skipped (no data.roots given): emotion6, twitter1"]
    with pytest.raises(UsageError, match="no task has data: give data.roots.<task>=PATH"):
        rooted_tasks(tasks[:2], {"skip_missing": True})
    with pytest.raises(UsageError, match="twitter1 has variants 5, 4, 3, not 2"):
        rooted_tasks(tasks, {"variants": {"twitter1": 2}})


def test_heldout_samples_limit_fingerprint_and_reports(tmp_path):
    root = emotion6_tree(tmp_path / "Emotion6", {"anger": 4, "joy": 2, "surprise": 2})
    task = load_task("emotion6")
    data = {"roots": {"emotion6": str(root)}, "reports": str(tmp_path / "reports")}
    samples, dataset = heldout_samples(task, data)
    assert [(s.id, s.gold) for s in samples][:3] == [("images/anger/1.jpg", "anger"), ("images/anger/2.jpg", "anger"),
                                                    ("images/anger/3.jpg", "anger")]
    assert len(samples) == 8 and samples[0].image == str(root.resolve() / "images" / "anger" / "1.jpg")
    assert samples[0].instruction == task.questions()[None]
    assert dataset["read"]["entries"] == 8 and dataset["read"]["balanced"] and dataset["selected"] == 8
    assert (tmp_path / "reports" / "emotion6" / "read.json").is_file()
    assert (tmp_path / "reports" / "emotion6" / "quarantine.jsonl").read_text() == ""
    limited, described = heldout_samples(task, {**data, "limit": 4, "seed": 3, "_reads": {}})
    assert sorted(s.gold for s in limited) == ["anger", "anger", "joy", "surprise"]
    assert described["selected"] == 4 and described["fingerprint"] != dataset["fingerprint"]
    write_jpeg(root / "images" / "joy" / "2.jpg", seed=99)
    _, changed = heldout_samples(task, {**data, "_reads": {}})
    assert changed["fingerprint"] != dataset["fingerprint"]


@pytest.mark.parametrize("make, root_name, message", [
    (lambda root: write_jpeg(root / "amusement_1.jpg"), "artphoto",
     "not the Emotion6 layout: no ground_truth.txt (expected ground_truth.txt and images/<emotion>/<n>.jpg)"),
    (lambda root: write_jpeg(root / "images" / "joy" / "1.jpg"), "nolabels",
     "not the Emotion6 layout: no ground_truth.txt (expected ground_truth.txt and images/<emotion>/<n>.jpg)"),
])
def test_a_bad_root_stops_the_run_with_one_line(tmp_path, capsys, make, root_name, message):
    root = tmp_path / root_name
    root.mkdir()
    make(root)
    code = main(["bench", "run", "--config", "heldout", "tasks=[emotion6]", f"data.roots.emotion6={root}",
                 f"out={tmp_path / 'out'}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"emovit bench: error: {root}: {message}\n"


def test_a_missing_twitter_agreement_file_stops_the_run_with_one_line(tmp_path, capsys):
    root = tmp_path / "twitter"
    write_jpeg(root / "Agg_AMT_Candidates" / "1_2_a.jpg")
    (root / "twitter_five_agrees.txt").write_text("1_2_a.jpg 1\n")
    code = main(["bench", "run", "--config", "heldout", "tasks=[twitter1]", f"data.roots.twitter1={root}",
                 "data.variants.twitter1=3", f"out={tmp_path / 'out'}", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "not the Twitter I layout: no twitter_three_agrees.txt for the 3-agree variant" in err


def test_heldout_config_loads_at_both_sizes():
    config = load_config("heldout")
    assert config.tasks == ["emotion6", "fi8", "fi2", "artphoto", "abstract", "unbiasedemo", "twitter1", "webemo25",
                            "webemo7", "webemo2"]
    assert [m["name"] for m in config.models] == ["emovit", "instructblip", "blip2", "llava", "clip"]
    assert config.data["skip_missing"] is True and config.limit is None and config.exclude_leaked is False
    tiny = load_config("heldout", ["size=tiny", "limit=5", "exclude_leaked=true", "leakage.threshold=6"])
    assert tiny.data["heldout_synth"]["per_class"] >= 1 and tiny.limit == 5 and tiny.exclude_leaked
    assert tiny.leakage == {"threshold": 6}
    with pytest.raises(UsageError, match="'limit' must be a positive integer"):
        load_config("heldout", ["limit=0"])
    with pytest.raises(UsageError, match="'leakage' keys are build, threshold"):
        load_config("heldout", ["leakage.hash=ahash"])
