"""A held-out image is scored once, whatever spelling or link names it twice, and label files hold any
characters: every path is normalised before it becomes an id, a second name of one file is duplicate_entry,
vote counts too large for a count are out_of_range, and lines are split on ``\\n`` only."""

from __future__ import annotations

import os

from builder.sources.heldout import read_heldout
from tests.support.images import write_jpeg

HEADER = ("[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t[prob. joy]\t"
          "[prob. sadness]\t[prob. surprise]\t[prob. neutral]")
VALUES = "\t5\t5\t1\t0\t0\t0\t0\t0\t0"


def _emotion6(root, names):
    write_jpeg(root / "images" / "anger" / "2.jpg", seed=2)
    write_jpeg(root / "images" / "anger" / "3.jpg", seed=3)
    (root / "ground_truth.txt").write_text("\n".join([HEADER, *(name + VALUES for name in names)]) + "\n")
    return root


def test_a_dot_segment_names_the_same_emotion6_image_once(tmp_path):
    read = read_heldout("emotion6", _emotion6(tmp_path / "E6", ["anger/./2.jpg", "anger/2.jpg", "anger//3.jpg"]))
    assert sorted(read.table["id"]) == ["images/anger/2.jpg", "images/anger/3.jpg"]
    assert [(q.id, q.code) for q in read.quarantined] == [("images/anger/2.jpg", "duplicate_entry")]
    assert (read.entries, read.rows, len(read.quarantined)) == (3, 2, 1) and read.summary()["balanced"]


def test_only_a_dot_segment_line_still_labels_the_image(tmp_path):
    """The normalised id is the folder walk's id: the image is labelled, not also 'unlabelled'."""
    read = read_heldout("emotion6", _emotion6(tmp_path / "E6", ["anger/./2.jpg", "./anger/3.jpg"]))
    assert sorted(read.table["id"]) == ["images/anger/2.jpg", "images/anger/3.jpg"] and read.quarantined == []


def test_a_symlink_to_a_file_inside_the_root_is_a_duplicate_not_a_second_image(tmp_path):
    root = tmp_path / "FI"
    write_jpeg(root / "emotion_dataset" / "anger" / "a.jpg", seed=1)
    write_jpeg(root / "emotion_dataset" / "fear" / "b.jpg", seed=2)
    os.symlink("a.jpg", root / "emotion_dataset" / "anger" / "c.jpg")
    os.symlink("../anger/a.jpg", root / "emotion_dataset" / "fear" / "d.jpg")
    read = read_heldout("fi", root)
    assert sorted(read.table["id"]) == ["emotion_dataset/anger/a.jpg", "emotion_dataset/fear/b.jpg"]
    codes = sorted((q.id, q.code) for q in read.quarantined)
    assert codes == [("emotion_dataset/anger/c.jpg", "duplicate_entry"), ("emotion_dataset/fear/d.jpg", "duplicate_entry")]
    reason = next(q.reason for q in read.quarantined if q.id.endswith("c.jpg"))
    assert "the same file as emotion_dataset/anger/a.jpg" in reason
    assert (read.entries, read.rows + len(read.quarantined)) == (4, 4)


def test_twitter_dot_segments_are_repeats_of_one_entry(tmp_path):
    root = tmp_path / "Twitter"
    for name in ("1.jpg", "2.jpg"):
        write_jpeg(root / "Agg_AMT_Candidates" / name, seed=len(name))
    (root / "twitter_five_agrees.txt").write_text("./1.jpg 1\n1.jpg 1\n2.jpg 0\n")
    read = read_heldout("twitter1", root)
    assert sorted(read.table["id"]) == ["Agg_AMT_Candidates/1.jpg", "Agg_AMT_Candidates/2.jpg"]
    assert [(q.id, q.code) for q in read.quarantined] == [("Agg_AMT_Candidates/1.jpg", "duplicate_entry")]


def test_an_abstract_vote_too_large_for_a_count_is_out_of_range_not_a_crash(tmp_path):
    root = tmp_path / "abstract"
    for number in (1, 2):
        write_jpeg(root / f"abstract_{number:04d}.jpg", seed=number)
    (root / "ABSTRACT_groundTruth.csv").write_text(
        "'','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'\n"
        "'abstract_0001.jpg',99999999999999999999999,0,3,8,0,1,1,0\n"
        "'abstract_0002.jpg',0,1,0,0,2,0,2,9\n"
        "'abstract_0003.jpg',0,1,0,0\x00,2,0,2,9\n")
    read = read_heldout("abstract", root)
    assert list(read.table["id"]) == ["abstract_0002.jpg"]
    assert sorted((q.id, q.code) for q in read.quarantined) == [
        ("abstract_0001.jpg", "out_of_range"), ("abstract_0003.jpg", "malformed_line")]
    assert read.summary()["balanced"]


def test_label_file_lines_split_on_newline_only(tmp_path):
    """U+2028, U+0085 and form feeds in a name are part of the name: one line, one entry."""
    root = tmp_path / "Twitter"
    write_jpeg(root / "Agg_AMT_Candidates" / "1.jpg", seed=1)
    (root / "twitter_five_agrees.txt").write_text("1.jpg 1\nodd\u2028name.jpg 0\r\nform\x0cfeed\u0085.jpg 1\n",
                                                 encoding="utf-8")
    read = read_heldout("twitter1", root)
    assert read.entries == 3 and list(read.table["id"]) == ["Agg_AMT_Candidates/1.jpg"]
    assert sorted(q.code for q in read.quarantined) == ["missing_image", "missing_image"]
    from benchmarks.data.samples import write_read_report
    from schemas.jsonlines import parse_lines, read_text

    write_read_report(read, tmp_path / "report")                  # the quarantine writer pairs with the reader
    written = [entry for _, entry in parse_lines(read_text(tmp_path / "report" / "quarantine.jsonl"))]
    assert sorted(entry["id"] for entry in written) == sorted(q.id for q in read.quarantined)
    assert any("\u2028" in entry["id"] for entry in written)
