"""Captioners: attributes, file (JSONL/CSV, missing ids reported), the caption cache, tiny BLIP-2."""

from __future__ import annotations

import json
import pickle
import sqlite3

import pytest

from builder.captions import get_captioner
from builder.captions.attributes import attribute_caption
from builder.captions.base import CachingCaptioner
from builder.captions.file import CaptionFileError
from builder.sources.records import SourceRecord
from schemas.errors import UsageError


def _record(**attributes) -> SourceRecord:
    return SourceRecord(id="x_1", split="train", emotion="fear", image_path="image/x_1.jpg",
                        annotation_path="annotation/x_1.json", **attributes)


def test_attribute_caption_composition():
    assert attribute_caption(_record(scene="forest_path", objects=("Spider", "Owl", "Tree"), human_action="crying",
                                     facial_expression="fear")) == (
        "a photo of a forest path with a spider, an owl and a tree, showing a person crying who looks frightened")
    assert attribute_caption(_record(objects=("Coffee cup",))) == "a photo with a coffee cup"
    assert attribute_caption(_record(facial_expression="happy")) == "a photo, showing a person who looks happy"
    assert attribute_caption(_record()) == "a photo"
    # The emotion label never leaks into the caption.
    assert "fear" not in attribute_caption(_record(scene="alley"))


def test_attributes_captioner_is_deterministic(source_records):
    captioner = get_captioner("attributes", cache_dir=None)
    first = captioner.captions(source_records, progress=False)
    assert first.captions == {r.id: attribute_caption(r) for r in source_records}
    assert first.missing == [] and first.computed == 24 and first.cached == 0
    assert get_captioner("attributes", cache_dir=None).captions(source_records, progress=False).captions == \
        first.captions


def test_caption_cache_second_call_computes_nothing(source_records, tmp_path):
    calls: list[int] = []

    class Counting(CachingCaptioner):
        name = "counting"

        def compute(self, records):
            calls.append(len(records))
            return {r.id: f"caption {r.id}" for r in records}, []

    first = Counting(tmp_path).captions(source_records, progress=False)
    assert (first.computed, first.cached, calls) == (24, 0, [24])
    second = Counting(tmp_path).captions(source_records, progress=False)  # a fresh object: the cache is on disk
    assert (second.computed, second.cached, calls) == (0, 24, [24])
    assert second.captions == first.captions
    more = [SourceRecord(id="new_1", split="train", emotion="awe", image_path="n.jpg", annotation_path="n.json")]
    third = Counting(tmp_path).captions(source_records[:3] + more, progress=False)
    assert (third.computed, third.cached, calls) == (1, 3, [24, 1])
    with sqlite3.connect(tmp_path / "captions.sqlite") as db:
        # the new record's image does not exist: it is captioned but has no content key to cache under
        assert db.execute("SELECT COUNT(*) FROM captions_by_content WHERE captioner = 'counting'").fetchone() == (24,)


def test_attributes_captions_are_composed_not_cached(source_records, tmp_path):
    assert get_captioner("attributes", cache_dir=tmp_path).captions(source_records, progress=False).computed == 24
    again = get_captioner("attributes", cache_dir=tmp_path).captions(source_records, progress=False)
    assert (again.computed, again.cached) == (24, 0)
    assert not (tmp_path / "captions.sqlite").exists()


def _mean_colour_captioner():
    from PIL import Image, ImageStat

    class MeanColour(CachingCaptioner):
        """Captions that depend on the pixels, so a stale cache entry would show."""

        name = "mean-colour"

        def compute(self, records):
            captions = {}
            for record in records:
                with Image.open(record.image_path) as image:
                    captions[record.id] = "a photo of colour " + ",".join(
                        str(round(v)) for v in ImageStat.Stat(image.convert("RGB")).mean)
            return captions, []

    return MeanColour


def test_two_trees_with_the_same_ids_and_different_images_get_different_captions(tmp_path, tiny_blip2):
    from builder.sources.emoset import EmoSetSource
    from builder.sources.synth import SynthConfig, synthesise

    trees = []
    for seed in (1, 2):  # same layout and ids, different pixels
        synthesise(tmp_path / f"tree{seed}", SynthConfig(per_class=1, seed=seed, splits=("train",), image_size=16),
                   progress=False)
        trees.append(list(EmoSetSource(tmp_path / f"tree{seed}", verify_images=False).records("train")))
    assert sorted(r.id for r in trees[0]) == sorted(r.id for r in trees[1])
    cache = tmp_path / "cache"
    MeanColour = _mean_colour_captioner()
    first = MeanColour(cache).captions(trees[0], progress=False)
    second = MeanColour(cache).captions(trees[1], progress=False)
    assert (second.cached, second.computed) == (0, 8)
    assert all(first.captions[i] != second.captions[i] for i in first.captions)
    assert MeanColour(cache).captions(trees[0], progress=False).captions == first.captions  # and back, cached
    # the real BLIP-2 captioner keys its cache the same way: the second tree is captioned, not looked up
    spec = f"blip2:{tiny_blip2}"
    # (a random tiny BLIP-2 leaves some captions empty: those are reported missing, not cached)
    before = get_captioner(spec, cache_dir=cache, max_new_tokens=4).captions(trees[0], progress=False)
    assert before.cached == 0 and before.computed + len(before.missing) == 8
    other = get_captioner(spec, cache_dir=cache, max_new_tokens=4).captions(trees[1], progress=False)
    assert other.cached == 0 and other.computed + len(other.missing) == 8 and other.computed > 0
    again = get_captioner(spec, cache_dir=cache, max_new_tokens=4).captions(trees[1], progress=False)
    assert again.cached == other.computed and again.captions == other.captions


def test_file_captions_jsonl_with_missing_ids(source_records, tmp_path):
    path = tmp_path / "captions.jsonl"
    covered = source_records[:20]
    lines = [json.dumps({"id": r.id, "caption": f"  a picture   of {r.id} "}) for r in covered]
    lines.append(json.dumps({"id": source_records[20].id, "caption": ""}))
    lines.append(json.dumps({"id": "not_in_tree", "caption": "unused"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = get_captioner(f"file:{path}", cache_dir=tmp_path / "cache").captions(source_records, progress=False)
    assert outcome.captions == {r.id: f"a picture of {r.id}" for r in covered}
    assert sorted((m.id, m.code) for m in outcome.missing) == sorted(
        [(source_records[20].id, "empty_caption")] + [(r.id, "missing_caption") for r in source_records[21:]])
    for entry in outcome.missing:
        assert entry.stage == "caption" and str(path) in entry.reason and entry.source == str(path)
    assert "not_in_tree" not in outcome.captions


def test_file_captions_csv_and_cache_invalidated_by_edits(source_records, tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text("id,caption\n" + "".join(f'{r.id},"old, {r.id}"\n' for r in source_records[:2]), encoding="utf-8")
    cache = tmp_path / "cache"
    first = get_captioner(f"file:{path}", cache_dir=cache).captions(source_records[:3], progress=False)
    assert first.captions == {r.id: f"old, {r.id}" for r in source_records[:2]}
    assert [m.id for m in first.missing] == [source_records[2].id]
    assert get_captioner(f"file:{path}", cache_dir=cache).captions(source_records[:2], progress=False).cached == 2
    path.write_text("id,caption\n" + "".join(f"{r.id},new\n" for r in source_records[:3]), encoding="utf-8")
    edited = get_captioner(f"file:{path}", cache_dir=cache).captions(source_records[:3], progress=False)
    assert edited.captions == {r.id: "new" for r in source_records[:3]} and edited.cached == 0


def test_malformed_caption_files_are_usage_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "caption": "x"}\n{"id": 3}\n', encoding="utf-8")
    with pytest.raises(CaptionFileError, match="bad.jsonl:2"):
        get_captioner(f"file:{bad}", cache_dir=None).captions([_record()], progress=False)
    clash = tmp_path / "clash.csv"
    clash.write_text("id,caption\nx_1,one\nx_1,two\n", encoding="utf-8")
    with pytest.raises(CaptionFileError, match="different caption"):
        get_captioner(f"file:{clash}", cache_dir=None).captions([_record()], progress=False)
    with pytest.raises(UsageError, match="not found"):
        get_captioner(f"file:{tmp_path / 'none.csv'}", cache_dir=None)


def test_unknown_specs():
    for spec in ("blip", "file:", "blip2:", "attributes:x"):
        with pytest.raises(UsageError):
            get_captioner(spec, cache_dir=None)


def test_tiny_blip2_captioner(source_records, tiny_blip2, tmp_path):
    records = source_records[:5]
    broken = SourceRecord(id="broken_1", split="train", emotion="awe", image_path=str(tmp_path / "nope.jpg"),
                          annotation_path="a.json")
    captioner = get_captioner(f"blip2:{tiny_blip2}", cache_dir=tmp_path / "cache", batch_size=2, max_new_tokens=6)
    assert captioner.name == f"blip2:{tiny_blip2}"
    outcome = captioner.captions([*records, broken], progress=False)
    assert set(outcome.captions) == {r.id for r in records}
    assert [(m.id, m.code) for m in outcome.missing] == [("broken_1", "unreadable_image")]
    assert "nope.jpg" in outcome.missing[0].reason
    for caption in outcome.captions.values():
        words = caption.split()
        assert 1 <= len(words) <= 6 and "<image>" not in caption
    # A random vision tower with initializer_range 0.02 tells images apart.
    assert len(set(outcome.captions.values())) >= 2
    # Same checkpoint from a fresh captioner: served from the cache, and the model is never loaded.
    again = get_captioner(f"blip2:{tiny_blip2}", cache_dir=tmp_path / "cache", batch_size=2, max_new_tokens=6)
    repeat = again.captions(records, progress=False)
    assert repeat.captions == outcome.captions and (repeat.computed, repeat.cached) == (0, 5)
    assert again._model is None
    # Greedy decoding is deterministic without the cache too.
    fresh = get_captioner(f"blip2:{tiny_blip2}", cache_dir=None, batch_size=5, max_new_tokens=6)
    assert fresh.captions(records, progress=False).captions == outcome.captions
    assert pickle.loads(pickle.dumps(fresh))._model is None
