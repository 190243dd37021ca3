"""Datasets labelled by list files, written by hand byte for byte as they ship: Abstract's single-quoted CSV,
Twitter I's agreement files, WEBEmo's URL lists."""

from __future__ import annotations

import pytest

from builder.sources.heldout import HeldoutRootError, read_heldout
from tests.support.images import write_jpeg

# ------------------------------------------------------------------------------------------------ Abstract
ABSTRACT_CSV = (
    "'','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'\r\n"
    "'abstract_0001.jpg',1,0,3,8,0,1,1,0\r\n"      # Content wins -> contentment
    "'abstract_0002.jpg',4,0,4,2,0,2,1,1\r\n"      # Amusement and Awe tie at 4: excluded
    "'abstract_0003.jpg',0,1,0,0,2,0,2,9\r\n"      # Sad wins -> sadness
    "'abstract_0004.jpg',0,0,0,0,0,9,3,2\r\n"      # no such image
    "'abstract_0005.jpg',1,2,three,0,0,0,0,0\r\n"  # not a number
    "'abstract_0001.jpg',1,0,3,8,0,1,1,0\r\n"      # listed again
    "'abstract_0006.jpg', 0, 11, 0, 0, 1, 0, 2, 0\r\n"  # spaces after commas -> anger
)


def test_abstract_gold_is_the_unique_top_vote_and_ties_are_excluded(tmp_path):
    root = tmp_path / "testImages_abstract"
    for number in (1, 2, 3, 5, 6, 7):
        write_jpeg(root / f"abstract_{number:04d}.jpg", seed=number)
    (root / "ABSTRACT_groundTruth.csv").write_bytes(ABSTRACT_CSV.encode("ascii"))
    read = read_heldout("abstract", root)
    rows = {r["id"]: r for r in read.table.to_dict("records")}
    assert {k: r["label"] for k, r in rows.items()} == {
        "abstract_0001.jpg": "contentment", "abstract_0003.jpg": "sadness", "abstract_0006.jpg": "anger"}
    assert [rows["abstract_0001.jpg"][f"votes_{n}"] for n in
            ("amusement", "anger", "awe", "content", "disgust", "excitement", "fear", "sad")] == [1, 0, 3, 8, 0, 1, 1, 0]
    assert sorted((q.id, q.code) for q in read.quarantined) == [
        ("abstract_0001.jpg", "duplicate_entry"), ("abstract_0002.jpg", "tied_votes"),
        ("abstract_0004.jpg", "missing_image"), ("abstract_0005.jpg", "malformed_line"),
        ("abstract_0007.jpg", "unlabelled")]
    assert (read.entries, read.rows) == (8, 3)
    tie = next(q for q in read.quarantined if q.code == "tied_votes")
    assert tie.reason.startswith("ABSTRACT_groundTruth.csv:3: abstract_0002.jpg top vote tied between Amusement "
                                 "and Awe (4 each)")
    assert read.summary()["quarantine_codes"]["tied_votes"] == 1


def test_abstract_header_without_the_vote_columns_is_one_clear_error(tmp_path):
    (tmp_path / "ABSTRACT_groundTruth.csv").write_text("'file','Happy','Sad'\n'a.jpg',1,2\n")
    with pytest.raises(HeldoutRootError, match="header has no column\\(s\\) 'Amusement', 'Anger', 'Awe', 'Content'"):
        read_heldout("abstract", tmp_path)
    (tmp_path / "ABSTRACT_groundTruth.csv").unlink()
    with pytest.raises(HeldoutRootError, match="not the Abstract layout: no ABSTRACT_groundTruth.csv"):
        read_heldout("abstract", tmp_path)


# ------------------------------------------------------------------------------------------------ Twitter I
FIVE = "1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg 0\n1939748214_466054312657829888_BnfB7ZICMAAtq8i.jpg 1\n"
FOUR = FIVE + "30262632_466210378507386880_BnhPjkCIUAAw-0c.jpg 1\n"
THREE = FOUR + ("57251215_463865158595383296_BmrpgvFIEAAgw7W.jpg 0\n"
                "2222379552_467686471508324353_Bn0W6CSIQAAivNl.jpg 1\n"
                "2222379552_467686471508324353_Bn0W6CSIQAAivNl.jpg 0\n"   # both labels
                "394413543_466052240646492160_BncE_xbIUAA9SpC.jpg 1\n"
                "394413543_466052240646492160_BncE_xbIUAA9SpC.jpg 1\n"    # listed twice
                "this line is wrong\n")
IMAGES = ["1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg", "1939748214_466054312657829888_BnfB7ZICMAAtq8i.jpg",
          "30262632_466210378507386880_BnhPjkCIUAAw-0c.jpg", "57251215_463865158595383296_BmrpgvFIEAAgw7W.jpg",
          "2222379552_467686471508324353_Bn0W6CSIQAAivNl.jpg", "394413543_466052240646492160_BncE_xbIUAA9SpC.jpg",
          "99_1_unlisted.jpg"]


def twitter_tree(root, folder="Agg_AMT_Candidates", labels=".", missing=()):
    for number, name in enumerate(IMAGES):
        if name not in missing:
            write_jpeg(root / folder / name, seed=number)
    for name, text in (("twitter_five_agrees.txt", FIVE), ("twitter_four_agrees.txt", FOUR),
                       ("twitter_three_agrees.txt", THREE)):
        (root / labels).mkdir(parents=True, exist_ok=True)
        (root / labels / name).write_text(text)
    return root


def test_twitter_five_agree_by_default(tmp_path):
    read = read_heldout("twitter1", twitter_tree(tmp_path / "twitter"))
    assert dict(zip(read.table["id"], read.table["label"])) == {
        "Agg_AMT_Candidates/1005887100_428632757510471681_BfLPOMjCYAADZ0V.jpg": "negative",
        "Agg_AMT_Candidates/1939748214_466054312657829888_BnfB7ZICMAAtq8i.jpg": "positive"}
    assert set(read.table["agree"]) == {5} and read.variant == 5
    assert [(q.id, q.code) for q in read.quarantined] == [("Agg_AMT_Candidates/99_1_unlisted.jpg", "unlabelled")]
    assert read.notes["outside_variant"]["count"] == 4 and (read.entries, read.rows) == (3, 2)


@pytest.mark.parametrize("variant, rows", [(4, 3), (3, 5)])
def test_twitter_lower_agreement_levels_and_their_traps(tmp_path, variant, rows):
    read = read_heldout("twitter1", twitter_tree(tmp_path / "t", folder="images", labels="ground_truth"),
                        variant=variant)
    assert read.rows == rows and set(read.table["agree"]) == {variant}
    assert read.table["id"].str.startswith("images/").all()
    codes = sorted((q.id.rsplit("/", 1)[-1], q.code) for q in read.quarantined)
    if variant == 3:
        assert codes == [
            ("2222379552_467686471508324353_Bn0W6CSIQAAivNl.jpg", "conflicting_labels"),
            ("2222379552_467686471508324353_Bn0W6CSIQAAivNl.jpg", "conflicting_labels"),
            ("394413543_466052240646492160_BncE_xbIUAA9SpC.jpg", "duplicate_entry"),
            ("99_1_unlisted.jpg", "unlabelled"),
            ("twitter_three_agrees.txt:9", "malformed_line")]
        # 9 lines + 1 image no file lists = 10 entries: 5 rows (the twice-listed image once) + 5 quarantined
        assert read.entries == 10 and read.rows + len(read.quarantined) == read.entries
    else:
        assert codes == [("99_1_unlisted.jpg", "unlabelled")] and read.entries == 4


def test_twitter_missing_variant_file_and_missing_images(tmp_path):
    root = twitter_tree(tmp_path / "t", missing=("1939748214_466054312657829888_BnfB7ZICMAAtq8i.jpg",))
    read = read_heldout("twitter1", root)
    assert [q.code for q in read.quarantined] == ["missing_image", "unlabelled"] and read.rows == 1
    (root / "twitter_four_agrees.txt").unlink()
    with pytest.raises(HeldoutRootError, match="no twitter_four_agrees.txt for the 4-agree variant"):
        read_heldout("twitter1", root, variant=4)
    with pytest.raises(Exception, match="Twitter I has no variant 2"):
        read_heldout("twitter1", root, variant=2)


# ------------------------------------------------------------------------------------------------ WEBEmo
HOST = "https://t3.ftcdn.net/jpg/01/23"
TEST25 = "\n".join([
    f"{HOST}/240_F_100001_aaa.jpg 1",       # cheerfullness -> joy -> positive
    f"{HOST}/240_F_100002_bbb.jpg 22",      # surprise -> surprise -> no polarity
    f"{HOST}/240_F_100003_ccc.jpg 2",       # confusion -> confusion -> negative
    f"{HOST}/240_F_100004_ddd.jpg 11",      # irritabilty -> anger -> negative
    f"{HOST}/240_F_100005_eee.jpg 12",      # lust -> love; never fetched
    f"{HOST}/240_F_100001_aaa.jpg 1",       # duplicate URL, same label
    f"{HOST}/240_F_100006_fff.jpg 3",       # two labels
    f"{HOST}/240_F_100006_fff.jpg 19",
    "https://other.example/x/240_F_100004_ddd.jpg?size=large 9",   # another URL, same file name
    f"{HOST}/240_F_100007_ggg.jpg 25",      # no class 25
]) + "\n"
TRAIN25 = f"{HOST}/240_F_900001_zzz.jpg 0\n{HOST}/240_F_100003_ccc.jpg 2\n"


def webemo_tree(root):
    for number, name in enumerate(["240_F_100001_aaa.jpg", "240_F_100002_bbb.jpg", "240_F_100003_ccc.jpg",
                                   "240_F_100004_ddd.jpg", "240_F_100006_fff.jpg", "240_F_900001_zzz.jpg",
                                   "stray.jpg"]):
        write_jpeg(root / "images" / name, seed=number)
    (root / "test25.txt").write_text(TEST25)
    (root / "train25.txt").write_text(TRAIN25)
    return root


def test_webemo_hierarchy_traps_and_overlap(tmp_path):
    read = read_heldout("webemo", webemo_tree(tmp_path / "WEBEmo"))
    rows = {r["id"]: (r["label"], r["label7"], r["polarity"]) for r in read.table.to_dict("records")}
    assert rows == {"images/240_F_100001_aaa.jpg": ("cheerfullness", "joy", "positive"),
                    "images/240_F_100002_bbb.jpg": ("surprise", "surprise", None),
                    "images/240_F_100003_ccc.jpg": ("confusion", "confusion", "negative"),
                    "images/240_F_100004_ddd.jpg": ("irritabilty", "anger", "negative")}
    assert set(read.table["split"]) == {"test"}
    assert read.table.set_index("id").loc["images/240_F_100001_aaa.jpg", "url"] == f"{HOST}/240_F_100001_aaa.jpg"
    assert sorted((q.id, q.code) for q in read.quarantined) == [
        ("images/240_F_100001_aaa.jpg", "duplicate_entry"),
        ("images/240_F_100004_ddd.jpg", "file_name_clash"),
        ("images/240_F_100005_eee.jpg", "missing_image"),
        ("images/240_F_100006_fff.jpg", "conflicting_labels"),
        ("images/240_F_100006_fff.jpg", "conflicting_labels"),
        ("images/stray.jpg", "unlabelled"),
        ("test25.txt:10", "malformed_line")]
    assert (read.entries, read.rows) == (11, 4)  # 10 lines + the stray image
    assert read.notes["overlap"] == {"count": 1, "examples": [f"{HOST}/240_F_100003_ccc.jpg"]}
    assert read.notes["other_split_images"]["examples"] == ["images/240_F_900001_zzz.jpg"]


def test_webemo_train_split_and_bad_roots(tmp_path):
    root = webemo_tree(tmp_path / "WEBEmo")
    read = read_heldout("webemo", root, variant="train")
    assert dict(zip(read.table["id"], read.table["label"])) == {
        "images/240_F_900001_zzz.jpg": "affection", "images/240_F_100003_ccc.jpg": "confusion"}
    assert read.notes["overlap"]["count"] == 1
    (root / "test25.txt").unlink()
    with pytest.raises(HeldoutRootError, match="not the WEBEmo layout: no test25.txt"):
        read_heldout("webemo", root)
    (root / "test25.txt").write_text(TEST25)
    (root / "images").rename(root / "fetched")
    with pytest.raises(HeldoutRootError, match="no images/ folder: fetch the images, each saved under its URL's file "
                                               "name"):
        read_heldout("webemo", root)
