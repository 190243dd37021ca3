"""FI (emotion_dataset/<emotion>/), ArtPhoto (one folder, label = file-name prefix) and UnBiasedEmo
(images/<emotion>/<object>/), built by hand as their archives unpack."""

from __future__ import annotations

import pytest

from builder.sources.heldout import HeldoutRootError, read_heldout
from tests.support.images import write_jpeg


def labels(read) -> dict[str, str]:
    return dict(zip(read.table["id"], read.table["label"]))


# ------------------------------------------------------------------------------------------------ FI
def test_fi_gold_is_the_folder_and_strays_are_accounted_for(tmp_path):
    root = tmp_path / "FI"
    for number, name in enumerate(["amusement/amusement_0001.jpg", "amusement/amusement_0002.jpg",
                                   "sadness/sadness_0001.jpg", "awe/awe_0007.JPG", "neutral/n_1.jpg"]):
        write_jpeg(root / "emotion_dataset" / name, seed=number)
    write_jpeg(root / "emotion_dataset" / "loose.jpg", seed=9)
    (root / "emotion_dataset" / "sadness" / "Thumbs.db").write_bytes(b"\0\1")
    (root / "emotion_dataset" / "fear").mkdir()
    read = read_heldout("fi", root)
    assert labels(read) == {"emotion_dataset/amusement/amusement_0001.jpg": "amusement",
                            "emotion_dataset/amusement/amusement_0002.jpg": "amusement",
                            "emotion_dataset/awe/awe_0007.JPG": "awe",
                            "emotion_dataset/sadness/sadness_0001.jpg": "sadness"}
    assert sorted((q.id, q.code) for q in read.quarantined) == [
        ("emotion_dataset/loose.jpg", "unlabelled"), ("emotion_dataset/neutral/n_1.jpg", "unknown_label")]
    assert (read.entries, read.rows) == (6, 4)
    assert read.notes["ignored_files"] == {"count": 1, "examples": ["emotion_dataset/sadness/Thumbs.db"]}


def test_fi_root_given_as_the_class_folder_itself_says_so(tmp_path):
    write_jpeg(tmp_path / "emotion_dataset" / "awe" / "a.jpg")
    with pytest.raises(HeldoutRootError, match="looks like the emotion_dataset/ folder itself; give the folder "
                                               "that holds emotion_dataset/"):
        read_heldout("fi", tmp_path / "emotion_dataset")
    with pytest.raises(HeldoutRootError, match="not the FI layout: no emotion_dataset/ folder"):
        read_heldout("fi", tmp_path / "emotion_dataset" / "awe")


# ------------------------------------------------------------------------------------------------ ArtPhoto
def test_artphoto_label_is_the_prefix_and_sad_means_sadness(tmp_path):
    root = tmp_path / "testImages_artphoto"
    names = ["amusement_1.jpg", "anger_12.jpg", "awe_3.jpg", "contentment_4.jpg", "disgust_5.jpg",
             "excitement_6.jpg", "fear_7.jpg", "sad_8.jpg", "sad_10.jpg", "photo_9.jpg"]
    for number, name in enumerate(names):
        write_jpeg(root / name, seed=number)
    (root / "ReadMe.rtf").write_bytes(b"{\\rtf1\\ansi ArtPhoto readme\\par}")
    (root / "extra").mkdir()
    read = read_heldout("artphoto", root)
    assert labels(read) == {"amusement_1.jpg": "amusement", "anger_12.jpg": "anger", "awe_3.jpg": "awe",
                            "contentment_4.jpg": "contentment", "disgust_5.jpg": "disgust",
                            "excitement_6.jpg": "excitement", "fear_7.jpg": "fear", "sad_8.jpg": "sadness",
                            "sad_10.jpg": "sadness"}
    assert [(q.id, q.code) for q in read.quarantined] == [("photo_9.jpg", "unknown_label")]
    assert (read.entries, read.rows) == (10, 9)  # the ReadMe.rtf is no entry: ignored, noted, not quarantined
    assert read.notes["ignored_files"]["examples"] == ["ReadMe.rtf", "extra"]


@pytest.mark.parametrize("content, message", [
    ({"ABSTRACT_groundTruth.csv": b"'','Amusement'\n", "abstract_0001.jpg": None},
     r"it holds ABSTRACT_groundTruth.csv: this is the Abstract set \(task abstract\)"),
    ({"ReadMe.rtf": b"{\\rtf1}"}, "not the ArtPhoto layout: no image named <emotion>_<n>"),
])
def test_artphoto_wrong_root_is_one_clear_error(tmp_path, content, message):
    for name, data in content.items():
        write_jpeg(tmp_path / name) if data is None else (tmp_path / name).write_bytes(data)
    with pytest.raises(HeldoutRootError, match=message):
        read_heldout("artphoto", tmp_path)


# ------------------------------------------------------------------------------------------------ UnBiasedEmo
def test_unbiasedemo_keeps_the_object_folder_and_names_with_spaces(tmp_path):
    root = tmp_path / "UnBiasedEmo"
    names = ["joy/dog/dog 1.jpg", "anger/dog/dog 1.jpg", "love/group of people/two people hugging 3.jpg",
             "surprise/baby/baby 2.jpg", "fear/spider.jpg", "boredom/cat/cat 1.jpg"]
    for number, name in enumerate(names):
        write_jpeg(root / "images" / name, seed=number)
    read = read_heldout("unbiasedemo", root)
    rows = {r["id"]: (r["label"], r["object"]) for r in read.table.to_dict("records")}
    assert rows == {"images/joy/dog/dog 1.jpg": ("joy", "dog"), "images/anger/dog/dog 1.jpg": ("anger", "dog"),
                    "images/love/group of people/two people hugging 3.jpg": ("love", "group of people"),
                    "images/surprise/baby/baby 2.jpg": ("surprise", "baby"),
                    "images/fear/spider.jpg": ("fear", None)}
    assert [(q.id, q.code) for q in read.quarantined] == [("images/boredom/cat/cat 1.jpg", "unknown_label")]
    assert read.entries == 6


def test_unbiasedemo_still_zipped_images_is_one_clear_error(tmp_path):
    (tmp_path / "images.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(HeldoutRootError, match="images.zip is still packed: unzip it"):
        read_heldout("unbiasedemo", tmp_path)
