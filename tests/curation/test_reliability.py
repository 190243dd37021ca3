"""Curation cannot be fooled: tags read trimmed and case-folded (the rest listed), plain dataset names only,
thumbnails from a draft decode under the pixel limit, decisions written to a file, never a folder."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from builder.curation.decisions import TaggedImage, decisions_from_tags, tagged_images
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS
from tests.support.hostile import bomb_jpeg


def emovit(*args):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], check=False, capture_output=True, text=True, timeout=120)


def test_tags_are_read_trimmed_and_case_folded():
    from builder.curation.decisions import normalise_tag

    images = [TaggedImage("a_1", ("Exclude",)), TaggedImage("a_2", ("exclude ",)), TaggedImage("a_3", ("RELABEL:fear",)),
              TaggedImage("a_4", (" Relabel : Sadness",)), TaggedImage("a_5", ("excluded", "train"))]
    decisions = decisions_from_tags(images, EMOTIONS, dataset_name="d")
    assert sorted(decisions.exclude) == ["a_1", "a_2"]
    assert {i: e for i, (e, _) in decisions.relabel.items()} == {"a_3": "fear", "a_4": "sadness"}
    assert [normalise_tag(t) for t in ("  EXCLUDE", "relabel:  Awe ", "Relabel :fear")] == [
        "exclude", "relabel:awe", "relabel:fear"]
    with pytest.raises(UsageError, match="a_6: tagged both 'exclude' and 'relabel:fear'"):
        decisions_from_tags([TaggedImage("a_6", ("EXCLUDE", "relabel:FEAR"))], EMOTIONS, dataset_name="d")


def test_the_app_tags_of_a_dataset_become_decisions_and_the_others_are_listed(fiftyone_db, tmp_path):
    from builder.curation.decisions import ignored_tags

    dataset = fiftyone_db.Dataset()
    try:
        samples = []
        for n, tags in enumerate([["train", "Exclude"], ["train", "RELABEL:fear"], ["val", "excluded"],
                                  ["val", "check later"], ["val"]]):
            samples.append(fiftyone_db.Sample(filepath=str(tmp_path / f"{n}.jpg"), image_id=f"a_{n}", split=tags[0],
                                              tags=tags))
        dataset.add_samples(samples)
        assert sorted((t.image_id, t.tags) for t in tagged_images(dataset)) == [
            ("a_0", ("train", "Exclude")), ("a_1", ("train", "RELABEL:fear"))]
        assert ignored_tags(dataset) == {"excluded": 1, "check later": 1}
    finally:
        dataset.delete()


def test_plain_dataset_names_only_and_decisions_go_to_a_file(tmp_path):
    for name in ("..", "../x", ".hidden", "a/b", "", "x" * 101):
        result = emovit("curate", "load", "--dataset", str(tmp_path), "--name", name)
        lines = result.stderr.strip().splitlines()
        assert (result.returncode, len(lines)) == (2, 1) and "--name must be a plain dataset name" in lines[0], name
    result = emovit("curate", "decisions", "--name", "loop", "--out", str(tmp_path))
    expected = (f"emovit curate: error: --out {tmp_path}: is a folder; give the decisions file's path "
                f"(e.g. {tmp_path}/decisions.json)")
    assert (result.returncode, result.stderr.strip().splitlines()) == (2, [expected])


def test_thumbnails_come_from_a_draft_decode_within_the_pixel_limit():
    from builder.curation.signals import DRAFT_SIDE, thumbnail_source
    from builder.sources.pixels import pixel_attributes_of_array

    rng = np.random.default_rng(0)
    pixels = np.kron(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), np.ones((64, 64, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=90)  # 2560 x 1920
    picture = thumbnail_source(buffer.getvalue(), 50_000_000, "big.jpg")
    assert picture.size == (1280, 960) and min(picture.size) >= DRAFT_SIDE  # 1/2 scale: 1/4 would make 480 rows
    full = pixel_attributes_of_array(pixels)
    draft = pixel_attributes_of_array(np.asarray(picture))
    assert (draft.brightness, draft.colorfulness) == (full.brightness, full.colorfulness)
    with pytest.raises(UsageError, match=r"bomb\.jpg: 12000x12000 = 144,000,000 pixels exceeds the pixel limit"):
        thumbnail_source(bomb_jpeg(), 50_000_000, "bomb.jpg")


def test_an_image_that_does_not_decode_stops_a_load_before_any_sample_is_added(small_tree, tmp_path):
    """A build made without image verification: curation decodes before it loads, and says what to do."""
    import json

    from builder.curation.images import read_build
    from builder.dataset.build import BuildConfig, build_dataset
    from tests.support.hostile import truncated_jpeg

    victim = json.loads((small_tree / "val.json").read_text())[2]
    (small_tree / victim[1]).write_bytes(truncated_jpeg())
    build_dataset(BuildConfig(emoset_root=str(small_tree), config="categorical", verify_images=False), tmp_path / "b",
                  cache_dir=tmp_path / "cache", progress=False, plots=False)
    image_id = victim[2].rsplit("/", 1)[-1][:-5]
    with pytest.raises(UsageError, match=rf"split val, image {image_id}: .*image cannot be decoded .*"
                                         r"\(undecodable_image\); a build that verifies images \(the default\) "
                                         r"quarantines it"):
        read_build(tmp_path / "b", progress=False)
