"""``emovit synth --layout``: small trees in each held-out layout, read back with the counts they promise;
the registry and the vocabularies they rely on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builder.cli import main
from builder.sources.heldout import READERS, read_heldout
from builder.sources.layouts import LayoutConfig, write_layout
from schemas.heldout import DATASETS, WEBEMO7, WEBEMO7_POLARITY, WEBEMO25, WEBEMO_25_TO_7


def test_one_reader_per_dataset_and_the_webemo_hierarchy_is_complete():
    assert tuple(READERS) == DATASETS
    assert len(WEBEMO25) == 25 and len(set(WEBEMO25)) == 25 and list(WEBEMO25) == sorted(WEBEMO25)
    assert {"cheerfullness", "irritabilty"} <= set(WEBEMO25) and "cheerfulness" not in WEBEMO25
    assert set(WEBEMO_25_TO_7) == set(WEBEMO25) and set(WEBEMO_25_TO_7.values()) == set(WEBEMO7)
    assert sorted(k for k, v in WEBEMO_25_TO_7.items() if v == "love") == ["affection", "gratitude", "lust"]
    assert WEBEMO_25_TO_7["confusion"] == "confusion" and WEBEMO_25_TO_7["disgust"] == "anger"
    assert sorted(k for k, v in WEBEMO7_POLARITY.items() if v == "positive") == ["joy", "love"]
    assert WEBEMO7_POLARITY["surprise"] is None


@pytest.mark.parametrize("layout", DATASETS)
def test_each_layout_reads_back_as_promised(tmp_path, layout):
    summary = write_layout(tmp_path / layout, LayoutConfig(layout, per_class=3, seed=2, image_size=16))
    expected = summary["expected"]["5"] if layout == "twitter1" else summary["expected"]
    read = read_heldout(layout, tmp_path / layout, verify_images=True)
    assert (read.entries, read.rows, len(read.quarantined)) == (expected["entries"], expected["rows"],
                                                                expected["quarantined"])
    assert read.summary()["quarantine_codes"] == expected["quarantine_codes"]
    assert json.loads((tmp_path / layout / "layout.json").read_text())["config"]["seed"] == 2


def test_layout_traps_are_in_the_files(tmp_path):
    write_layout(tmp_path / "artphoto", LayoutConfig("artphoto", per_class=1))
    assert (tmp_path / "artphoto" / "ReadMe.rtf").is_file() and (tmp_path / "artphoto" / "sad_1.jpg").is_file()
    write_layout(tmp_path / "abstract", LayoutConfig("abstract", per_class=2))
    lines = (tmp_path / "abstract" / "ABSTRACT_groundTruth.csv").read_text().splitlines()
    assert lines[0] == "'','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'"
    first = [int(v) for v in lines[1].split(",")[1:]]
    assert lines[1].startswith("'abstract_0001.jpg',") and first[:2] == [6, 6] and sum(first) == 14
    write_layout(tmp_path / "emotion6", LayoutConfig("emotion6", per_class=1))
    header = (tmp_path / "emotion6" / "ground_truth.txt").read_text().splitlines()[0]
    assert header.split("\t")[:4] == ["[image_filename]", "[valence]", "[arousal]", "[prob. anger]"]
    write_layout(tmp_path / "unbiasedemo", LayoutConfig("unbiasedemo", per_class=1))
    assert (tmp_path / "unbiasedemo" / "images" / "joy" / "dog" / "dog 1.jpg").is_file()
    twitter = write_layout(tmp_path / "twitter1", LayoutConfig("twitter1", per_class=3))["expected"]
    assert [twitter[level]["rows"] for level in ("5", "4", "3")] == [2, 4, 6]


def test_synth_layout_command(tmp_path, capsys):
    assert main(["synth", "--layout", "webemo", "--out", str(tmp_path / "w"), "--per-class", "1", "--quiet"]) == 0
    assert capsys.readouterr().out == (f"webemo layout, 25 images (28 entries: 24 rows, quarantined conflicting_labels 2, "
                                       f"duplicate_entry 1, missing_image 1) -> {tmp_path / 'w'}\n")
    assert main(["synth", "--layout", "webemo", "--out", str(tmp_path / "w")]) == 2
    assert capsys.readouterr().err == (f"emovit synth: error: {tmp_path / 'w'}: exists and is not an empty folder; "
                                       "give a new --out\n")
    assert main(["synth", "--layout", "fi", "--out", str(tmp_path / "f"), "--splits", "train"]) == 2
    result = subprocess.run([sys.executable, "-m", "builder.cli", "synth", "--layout", "sun397", "--out",
                             str(tmp_path / "x")], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "invalid choice: 'sun397'" in result.stderr
