"""Emotion6 as its archive ships: a tab-separated ground_truth.txt with a bracketed header, images/<emotion>/."""

from __future__ import annotations

import pytest

from builder.sources.heldout import HeldoutRootError, read_heldout
from tests.support.images import write_jpeg

HEADER = ("[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t[prob. joy]\t"
          "[prob. sadness]\t[prob. surprise]\t[prob. neutral]")
#: The example line of Emotion6's readme.txt, and lines whose seven probabilities are all different.
LINES = [
    "disgust/1.jpg\t2.5\t3.8\t0.133333\t0.7\t0\t0.0666667\t0.1\t0\t0",
    "anger/1.jpg\t3.1\t6.2\t0.4\t0.2\t0.1\t0.05\t0.15\t0.06\t0.04",
    "joy/1.jpg\t7.4\t5.5\t0.01\t0.02\t0.03\t0.5\t0.04\t0.3\t0.1",
    "fear/2.jpg\t3\t7\t0\t0\t1\t0\t0\t0\t0",                     # no such image
    "sadness/1.jpg\t2.0\t3.0\t0.5\t0.5",                           # malformed: 5 fields
    "anger/1.jpg\t3.1\t6.2\t0.4\t0.2\t0.1\t0.05\t0.15\t0.06\t0.04",  # listed twice
    "surprise/1.jpg\t12\t5\t0\t0\t0\t0\t0\t1\t0",                  # valence off the 1-9 scale
    "joy/2.jpg\t6\t5\t0.2\t0.2\t0.2\t0.2\t0.2\t0.2\t0.2",          # distribution sums to 1.4
    "../../outside.jpg\t5\t5\t0\t0\t0\t1\t0\t0\t0",                # leaves the root
]


def make_tree(root, header=HEADER, lines=LINES, newline="\n"):
    for name in ("disgust/1.jpg", "anger/1.jpg", "joy/1.jpg", "sadness/1.jpg", "surprise/1.jpg", "joy/2.jpg",
                 "joy/9.jpg"):
        write_jpeg(root / "images" / name, seed=len(name) + ord(name[0]))
    text = newline.join([header, *lines] if header is not None else lines) + newline
    (root / "ground_truth.txt").write_bytes(text.encode("ascii"))
    return root


def test_counts_gold_and_quarantine_reasons(tmp_path):
    read = read_heldout("emotion6", make_tree(tmp_path / "Emotion6"))
    rows = {r["id"]: r for r in read.table.to_dict("records")}
    assert rows.keys() == {"images/disgust/1.jpg", "images/anger/1.jpg", "images/joy/1.jpg"}
    assert {k: r["label"] for k, r in rows.items()} == {
        "images/disgust/1.jpg": "disgust", "images/anger/1.jpg": "anger", "images/joy/1.jpg": "joy"}
    codes = sorted((q.id, q.code) for q in read.quarantined)
    assert codes == [
        ("images/../../outside.jpg", "path_escape"),
        ("images/anger/1.jpg", "duplicate_entry"),
        ("images/fear/2.jpg", "missing_image"),
        ("images/joy/2.jpg", "out_of_range"),
        ("images/joy/9.jpg", "unlabelled"),
        ("images/sadness/1.jpg", "malformed_line"),
        ("images/surprise/1.jpg", "out_of_range"),
    ]
    # 9 lines + one image no line lists = 10 entries; 3 rows + 7 quarantined
    assert (read.entries, read.rows, len(read.quarantined)) == (10, 3, 7)
    assert read.summary()["balanced"] is True
    reasons = {q.id: q.reason for q in read.quarantined}
    assert reasons["images/fear/2.jpg"] == "images/fear/2.jpg: image file not found (ground_truth.txt:5)"
    assert reasons["images/joy/9.jpg"] == "images/joy/9.jpg: image not listed in ground_truth.txt"
    assert "ground_truth.txt:6: expected 10 tab-separated fields, got 5" in reasons["images/sadness/1.jpg"]
    assert "distribution_sums_to_1" in reasons["images/joy/2.jpg"]
    assert "valence" in reasons["images/surprise/1.jpg"]


def test_the_distribution_is_read_from_its_own_columns_not_one_late(tmp_path):
    rows = {r["id"]: r for r in read_heldout("emotion6", make_tree(tmp_path / "e6")).table.to_dict("records")}
    disgust = rows["images/disgust/1.jpg"]  # the readme's example: anger 0.133333, disgust 0.7, joy 0.0666667 ...
    assert (disgust["valence"], disgust["arousal"]) == (2.5, 3.8)
    assert [disgust[f"prob_{n}"] for n in ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")] == [
        0.133333, 0.7, 0.0, 0.0666667, 0.1, 0.0, 0.0]
    anger = rows["images/anger/1.jpg"]
    assert [anger[f"prob_{n}"] for n in ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")] == [
        0.4, 0.2, 0.1, 0.05, 0.15, 0.06, 0.04]
    assert rows["images/joy/1.jpg"]["prob_joy"] == 0.5 and rows["images/joy/1.jpg"]["prob_surprise"] == 0.3


def test_columns_are_matched_by_header_name(tmp_path):
    swapped = HEADER.replace("[prob. anger]\t[prob. disgust]", "[prob. disgust]\t[prob. anger]")
    lines = ["anger/1.jpg\t3.1\t6.2\t0.2\t0.4\t0.1\t0.05\t0.15\t0.06\t0.04"]
    read = read_heldout("emotion6", make_tree(tmp_path / "e6", header=swapped, lines=lines))
    row = read.table.set_index("id").loc["images/anger/1.jpg"]
    assert (row["prob_anger"], row["prob_disgust"]) == (0.4, 0.2)


def test_a_space_separated_header_and_crlf_lines_read_the_same(tmp_path):
    spaced = HEADER.replace("\t", " ")
    read = read_heldout("emotion6", make_tree(tmp_path / "e6", header=spaced, newline="\r\n"))
    assert read.rows == 3 and read.entries == 10


def test_without_a_header_line_the_documented_order_is_used_and_noted(tmp_path):
    read = read_heldout("emotion6", make_tree(tmp_path / "e6", header=None, lines=LINES[:3]))
    assert read.rows == 3 and read.notes["no_header_line"]["count"] == 1
    assert read.table.set_index("id").loc["images/disgust/1.jpg", "prob_disgust"] == 0.7


def test_a_header_missing_a_column_is_one_clear_error(tmp_path):
    broken = HEADER.replace("\t[prob. neutral]", "")
    with pytest.raises(HeldoutRootError, match=r"ground_truth.txt line 1: header has no \[prob. neutral\]"):
        read_heldout("emotion6", make_tree(tmp_path / "e6", header=broken))


def test_a_symlink_out_of_the_root_is_never_opened(tmp_path):
    root = make_tree(tmp_path / "e6", lines=["joy/1.jpg\t7\t5\t0\t0\t0\t1\t0\t0\t0",
                                              "joy/5.jpg\t7\t5\t0\t0\t0\t1\t0\t0\t0"])
    secret = write_jpeg(tmp_path / "secret.jpg")
    (root / "images" / "joy" / "5.jpg").symlink_to(secret)
    read = read_heldout("emotion6", root)
    assert [(q.id, q.code) for q in read.quarantined if q.code != "unlabelled"] == [("images/joy/5.jpg", "path_escape")]


@pytest.mark.parametrize("layout, message", [
    ("empty", "not the Emotion6 layout: no ground_truth.txt"),
    ("artphoto", "not the Emotion6 layout: no ground_truth.txt"),
    ("no-images", "not the Emotion6 layout: no images/ folder"),
    ("missing", "Emotion6 root not found or not a directory"),
])
def test_a_bad_root_is_one_clear_error(tmp_path, layout, message):
    root = tmp_path / "root"
    if layout != "missing":
        root.mkdir()
    if layout == "artphoto":
        write_jpeg(root / "amusement_1.jpg")
    if layout == "no-images":
        (root / "ground_truth.txt").write_text(HEADER + "\n")
    with pytest.raises(HeldoutRootError) as error:
        read_heldout("emotion6", root)
    assert message in str(error.value) and "\n" not in str(error.value)
