"""Held-out runs end to end on tiny zoo models: synthetic layouts, provenance in config.json, the polarity task
derived with exclusions, and the leakage check (command, provenance, exclusion from scoring)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.data.leakage import hash_name
from benchmarks.data.samples import build_fingerprint, load_split
from benchmarks.run.runner import run_bench
from benchmarks.spec.config import load_config
from builder.cli import main
from builder.dataset.stored import record_batches
from schemas.heldout import WEBEMO7_POLARITY
from tests.support.images import write_jpeg


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_tiny_heldout_run_scores_each_layout_with_its_provenance(tmp_path, zoo):
    overrides = ["size=tiny", f"out={tmp_path / 'out'}", "data.synth=null", "data.heldout_synth.per_class=2",
                 "tasks=[emotion6, twitter1, webemo7, webemo2]", "leaderboard=false", "progress=false"]
    config = load_config("heldout", overrides)
    config.models = [{"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}]
    run_bench(config)
    runs = tmp_path / "out" / "runs" / "clip"
    emotion6 = _lines(runs / "emotion6" / "predictions.jsonl")
    assert len(emotion6) == 12 and emotion6[0]["id"] == "images/anger/1.jpg" and emotion6[0]["gold"] == "anger"
    assert set(emotion6[0]["scores"]) == {"anger", "disgust", "fear", "joy", "sadness", "surprise"}
    described = json.loads((runs / "emotion6" / "config.json").read_text())["dataset"]
    assert described["kind"] == "heldout" and described["dataset"] == "emotion6"
    assert described["path"] == str(tmp_path / "out" / "_data" / "heldout" / "emotion6")
    assert described["read"]["entries"] == 12 and described["read"]["balanced"] is True
    # the run folder carries each image's human votes, valence and arousal (read here from ground_truth.txt)
    truth = (tmp_path / "out" / "_data" / "heldout" / "emotion6" / "ground_truth.txt").read_text().splitlines()
    columns = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
    expected = {f"images/{name}": {"image_id": f"images/{name}", "valence": float(valence), "arousal": float(arousal),
                                   "votes": dict(zip(columns, map(float, probs)))}
                for name, valence, arousal, *probs in (line.split("\t") for line in truth[1:])}
    assert {r["image_id"]: r for r in _lines(runs / "emotion6" / "sample_data.jsonl")} == expected
    assert not (runs / "twitter1" / "sample_data.jsonl").exists()     # Twitter ships no vote distribution
    twitter = _lines(runs / "twitter1" / "predictions.jsonl")  # per_class 2: levels 5, 4 -> one 5-agree each
    assert sorted(r["gold"] for r in twitter) == ["negative", "positive"]
    webemo7 = _lines(runs / "webemo7" / "predictions.jsonl")
    webemo_read = json.loads((tmp_path / "out" / "data" / "webemo7" / "read.json").read_text())
    assert len(webemo7) == webemo_read["rows"] == 49  # 50 test URLs, the first never fetched
    assert webemo_read["quarantine_codes"] == {"conflicting_labels": 2, "duplicate_entry": 1, "missing_image": 1}
    quarantine = _lines(tmp_path / "out" / "data" / "webemo7" / "quarantine.jsonl")
    assert sorted(q["code"] for q in quarantine) == ["conflicting_labels", "conflicting_labels", "duplicate_entry",
                                                     "missing_image"]
    webemo2 = _lines(runs / "webemo2" / "predictions.jsonl")
    surprise = sum(1 for r in webemo7 if WEBEMO7_POLARITY[r["gold"]] is None)
    assert surprise == 2 and len(webemo2) == len(webemo7) - surprise
    assert {r["gold"] for r in webemo2} == {"positive", "negative"}
    derived = json.loads((runs / "webemo2" / "config.json").read_text())["derived_from"]
    assert derived["task"] == "webemo7" and derived["left_out"] == 2


@pytest.fixture
def leaky_tree(tmp_path, bench_build) -> tuple[Path, str]:
    """An Emotion6 tree written by hand whose joy/1.jpg is a training image of ``bench_build``, enlarged and
    re-encoded; the five other images are unrelated block pictures."""
    batch = next(record_batches(load_split(bench_build, "train"), ["image_id", "image"]))
    train_id, image = batch.column("image_id")[0].as_py(), batch.column("image")[0].as_py()
    root = tmp_path / "Emotion6"
    copy = root / "images" / "joy" / "1.jpg"
    copy.parent.mkdir(parents=True)
    with Image.open(image["path"]) as original:
        buffer = io.BytesIO()
        original.convert("RGB").resize((48, 48)).save(buffer, format="JPEG", quality=75)
    copy.write_bytes(buffer.getvalue())
    names = ["joy/1.jpg", "anger/1.jpg", "anger/2.jpg", "fear/1.jpg", "sadness/1.jpg", "surprise/1.jpg"]
    for seed, name in enumerate(names[1:], start=11):
        write_jpeg(root / "images" / name, seed=seed, size=64)
    header = "\t".join(["[image_filename]", "[valence]", "[arousal]", *(f"[prob. {e}]" for e in (
        "anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"))])
    lines = [header] + [f"{name}\t5\t5\t0\t0\t0\t0\t0\t0\t1" for name in names]
    (root / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    return root, train_id


def test_leakage_is_counted_recorded_and_excluded(tmp_path, zoo, bench_build, leaky_tree, capsys):
    root, train_id = leaky_tree
    out = tmp_path / "out"
    config_path = tmp_path / "config.yaml"
    config_path.write_text(json.dumps({
        "name": "leak", "out": str(out), "tasks": ["emotion6"], "progress": False, "leaderboard": False,
        "data": {"roots": {"emotion6": str(root)}},
        "models": [{"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}]}))
    run_bench(load_config(config_path))
    run_config = out / "runs" / "clip" / "emotion6" / "config.json"
    assert "leakage" not in json.loads(run_config.read_text())
    capsys.readouterr()

    assert main(["bench", "leakage", "--build", str(bench_build), "--task", "emotion6", "--config", str(config_path),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith(f"emotion6: 1 of 6 held-out images within 8 bits of a training image "
                                              f"of {bench_build}")
    assert f"  images/joy/1.jpg  ~  {train_id}  (" in printed
    report = json.loads((out / "leakage" / "emotion6.json").read_text())
    assert report["count"] == 1 and report["pairs"][0]["id"] == "images/joy/1.jpg"
    assert report["pairs"][0]["train_image_id"] == train_id and report["pairs"][0]["distance"] <= 8
    build = build_fingerprint(bench_build, "train")
    expected = {"count": 1, "threshold": 8, "hash": hash_name(), "build": build, "excluded": False}
    assert json.loads(run_config.read_text())["leakage"] == expected  # the earlier run is annotated

    run_bench(load_config(config_path, [f"leakage.build={bench_build}", "exclude_leaked=true"]))
    document = json.loads(run_config.read_text())
    assert document["leakage"] == {**expected, "excluded": True}
    assert document["dataset"]["excluded_leaked"] == 1 and document["samples"] == 5
    ids = [r["id"] for r in _lines(out / "runs" / "clip" / "emotion6" / "predictions.jsonl")]
    assert len(ids) == 5 and "images/joy/1.jpg" not in ids
    assert list(out.glob("runs/clip/emotion6/*.stale-*"))  # the unfiltered predictions were set aside

    assert main(["bench", "leaderboard", "--runs", str(out / "runs"), "--out", str(tmp_path / "board"),
                 "--no-plots"]) == 0
    [row] = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    assert (row["model"], row["task"], row["n"], row["leaked"]) == ("clip", "emotion6", 5, 1)


def test_leakage_command_errors_are_one_line(tmp_path, capsys, bench_build):
    code = main(["bench", "leakage", "--build", str(tmp_path / "nope"), "--task", "emotion6",
                 f"data.roots.emotion6={tmp_path}", f"out={tmp_path / 'o'}"])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
    code = main(["bench", "leakage", "--build", str(bench_build), "--task", "emoset8", f"out={tmp_path / 'o'}",
                 "--threshold", "3"])
    err = capsys.readouterr().err
    assert code == 2 and err == ("emovit bench: error: task emoset8 is not a held-out task (source build); leakage is "
                                 "checked for heldout and folder tasks\n")
