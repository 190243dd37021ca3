"""The curation loop through the real CLI: load, tag (as the App would), export decisions, rebuild with them,
re-load the rebuild and check that tags survived and the signals moved."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.curation_file import CurationDecisions
from schemas.vocab import EMOTIONS
from tests.curation.conftest import (
    BYTE_TWIN,
    CONFIDENTLY_WRONG,
    DARK,
    DUPLICATE_SOURCE,
    NEAR_TWIN,
    WRONG_CATEGORICAL,
)
from tests.support.reading import read_quarantine

REVIEWED = "awe_00004"


def emovit(*args: str) -> subprocess.CompletedProcess:
    """``emovit`` as a user runs it (the environment carries the private FiftyOne database)."""
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, timeout=300, check=False)


def _members(dataset, view):
    return sorted(dataset.load_saved_view(view).values("image_id"))


@pytest.fixture(scope="module")
def loop(fiftyone_db, planted_tree, planted_build, predictions_file, tmp_path_factory):
    """Dataset ``loop``: loaded by the CLI, tagged, decisions exported, rebuilt, re-loaded by the CLI."""
    base = tmp_path_factory.mktemp("loop")
    first = emovit("curate", "load", "--dataset", str(planted_build), "--name", "loop", "--predictions",
                   str(predictions_file), "--media-dir", str(base / "media"), "--quiet")
    assert first.returncode == 0, first.stderr
    dataset = fiftyone_db.load_dataset("loop")
    dataset.match({"image_id": {"$in": [DARK, BYTE_TWIN]}}).tag_samples("exclude")
    dataset.match({"image_id": CONFIDENTLY_WRONG}).tag_samples("relabel:amusement")
    dataset.match({"image_id": REVIEWED}).tag_samples("reviewed")
    exported = emovit("curate", "decisions", "--name", "loop", "--out", str(base / "decisions.json"))
    assert exported.returncode == 0, exported.stderr
    report = build_dataset(BuildConfig(emoset_root=str(planted_tree), config="all",
                                       curation=str(base / "decisions.json")),
                           base / "rebuild", cache_dir=base / "cache", progress=False, plots=False)
    second = emovit("curate", "load", "--dataset", str(base / "rebuild"), "--name", "loop", "--quiet")
    assert second.returncode == 0, second.stderr
    dataset.reload()
    return {"base": base, "first": first, "exported": exported, "report": report, "second": second,
            "dataset": dataset}


def test_cli_load_reports_counts(loop):
    assert "dataset 'loop': 72 images (72 added, 0 updated, 0 no longer in the source)" in loop["first"].stdout
    assert re.search(r"^pixel-mismatch +1$", loop["first"].stdout, re.MULTILINE)
    # A view per model and task of the images it got wrong (two each in the planted predictions).
    assert re.search(r"^misclassified-confident-model-emoset8 +2$", loop["first"].stdout, re.MULTILINE)
    assert re.search(r"^misclassified-generate-model-emoset8 +2$", loop["first"].stdout, re.MULTILINE)
    assert "browse: emovit curate app --name loop" in loop["first"].stdout


def test_decisions_file_holds_the_tags(loop):
    path = loop["base"] / "decisions.json"
    document = json.loads(path.read_text())
    assert document == {
        "format": "emovit-curation/1",
        "exclude": [
            {"id": DARK, "reason": "tagged 'exclude' in FiftyOne dataset 'loop' (in pixel-mismatch)"},
            {"id": BYTE_TWIN, "reason": "tagged 'exclude' in FiftyOne dataset 'loop' (in near-duplicates)"},
        ],
        "relabel": [{"id": CONFIDENTLY_WRONG, "emotion": "amusement",
                     "reason": "tagged 'relabel:amusement' in FiftyOne dataset 'loop' (in likely-label-errors, "
                               "misclassified-confident-model-emoset8)"}],
    }
    loaded = CurationDecisions.load(path, EMOTIONS)
    assert set(loaded.exclude) == {DARK, BYTE_TWIN} and loaded.relabel[CONFIDENTLY_WRONG][0] == "amusement"
    assert loop["exported"].stdout.startswith(f"2 excluded, 1 relabelled -> {path}")


def test_rebuild_drops_excluded_and_relabels(loop):
    import datasets

    report = loop["report"]
    train, test = report["splits"]["train"], report["splits"]["test"]
    assert (train["images_curated"], train["images_relabelled"], train["images_quarantined"]) == (2, 0, 0)
    assert (test["images_curated"], test["images_relabelled"], test["images_quarantined"]) == (0, 1, 0)
    assert train["images_in_dataset"] == 22 and test["images_in_dataset"] == 24
    for split in report["splits"].values():
        assert split["inputs"] == split["images_in_dataset"] + split["images_quarantined"] + split["images_curated"]
        assert split["balanced"] is True
    quarantine = read_quarantine(loop["base"] / "rebuild" / "quarantine.jsonl")
    assert sorted((q["id"], q["stage"], q["code"]) for q in quarantine) == [
        (DARK, "curation", "curation_excluded"), (BYTE_TWIN, "curation", "curation_excluded")]
    built = datasets.load_from_disk(str(loop["base"] / "rebuild"))
    image_ids = set(built["train"]["image_id"])
    assert DARK not in image_ids and BYTE_TWIN not in image_ids and len(image_ids) == 22
    relabelled = [row for row in built["test"] if row["image_id"] == CONFIDENTLY_WRONG]
    assert relabelled and {row["emotion"] for row in relabelled} == {EMOTIONS.index("amusement")}
    (categorical,) = [row for row in relabelled if row["kind"] == "categorical"]
    assert categorical["conversations"][1]["value"] == "Predict emotion: amusement"


def test_reload_keeps_tags_and_updates_samples(loop):
    dataset = loop["dataset"]
    assert "dataset 'loop': 70 images (0 added, 70 updated, 2 no longer in the source)" in loop["second"].stdout
    assert len(dataset) == 72
    tags = dict(zip(*dataset.values(["image_id", "tags"])))
    assert sorted(tags[DARK]) == ["exclude", "train"] and sorted(tags[BYTE_TWIN]) == ["exclude", "train"]
    assert sorted(tags[CONFIDENTLY_WRONG]) == ["relabel:amusement", "test"]
    assert sorted(tags[REVIEWED]) == ["reviewed", "val"]
    assert dataset.count_sample_tags() | {"exclude": 0, "relabel:amusement": 0, "reviewed": 0} == {
        "train": 24, "val": 24, "test": 24, "exclude": 0, "relabel:amusement": 0, "reviewed": 0}
    in_build = dict(zip(*dataset.values(["image_id", "in_build"])))
    assert sorted(k for k, v in in_build.items() if not v) == sorted([DARK, BYTE_TWIN])
    sample = dataset.match({"image_id": CONFIDENTLY_WRONG}).first()
    assert sample.emotion.label == "amusement"
    assert sample.instructions_categorical[0].endswith("A: Predict emotion: amusement")
    assert sample.source == str((loop["base"] / "rebuild").resolve())
    assert sample.filepath.startswith(str(loop["base"].parent.parent)) and "/emoset/image/" in sample.filepath


def test_signals_follow_the_rebuild(loop):
    dataset = loop["dataset"]
    assert _members(dataset, "pixel-mismatch") == []
    assert _members(dataset, "near-duplicates") == [DUPLICATE_SOURCE, NEAR_TWIN]
    assert _members(dataset, "instruction-flags") == []  # the rebuild regenerated clean instructions
    assert _members(dataset, "likely-label-errors") == []  # the model now agrees with the label
    mistakenness = dict(zip(*dataset.values(["image_id", "mistakenness_confident_model"])))
    assert mistakenness[CONFIDENTLY_WRONG] < 0.02
    assert dict(zip(*dataset.values(["image_id", "instruction_flags"])))[WRONG_CATEGORICAL] == []


def test_decisions_are_stable_after_the_rebuild(loop):
    again = emovit("curate", "decisions", "--name", "loop", "--out", str(loop["base"] / "again.json"))
    assert again.returncode == 0, again.stderr
    first = json.loads((loop["base"] / "decisions.json").read_text())
    second = json.loads((loop["base"] / "again.json").read_text())
    assert [e["id"] for e in second["exclude"]] == [e["id"] for e in first["exclude"]]
    assert [(r["id"], r["emotion"]) for r in second["relabel"]] == [(r["id"], r["emotion"]) for r in first["relabel"]]
