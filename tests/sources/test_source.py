import json
import os
from collections import Counter
from pathlib import Path

import pytest

from builder.sources.emoset import EmoSetSource, SourceError
from builder.sources.synth import SynthConfig, synthesise
from schemas.vocab import EMOTIONS


def read(root, **options):
    source = EmoSetSource(root, **options)
    records, quarantined = {}, {}
    for batch in source.read_all():
        records.setdefault(batch.split, []).extend(batch.records)
        quarantined.setdefault(batch.split, []).extend(batch.quarantined)
    return source, records, quarantined


def split_entries(root, split):
    return json.loads((root / f"{split}.json").read_text())


def write_split(root, split, entries):
    (root / f"{split}.json").write_text(json.dumps(entries))


def only_quarantined(quarantined, split="train"):
    assert len(quarantined[split]) == 1, quarantined[split]
    return quarantined[split][0]


def test_clean_tree_reads_every_entry(small_tree):
    source, records, quarantined = read(small_tree)
    assert source.splits == ("train", "val", "test")
    for split in source.splits:
        assert len(records[split]) == 24
        assert quarantined[split] == []
        assert Counter(r.emotion for r in records[split]) == {e: 3 for e in EMOTIONS}
    record = records["train"][0]
    assert Path(record.image_path).is_file() and record.image_path.endswith(".jpg")
    assert record.id == Path(record.annotation_path).stem
    assert 0.0 <= record.brightness <= 1.0


def test_three_and_four_field_entries_give_the_same_records(tmp_path):
    synthesise(tmp_path / "three", SynthConfig(per_class=2, seed=3, splits=("train",), image_size=16), progress=False)
    synthesise(tmp_path / "four", SynthConfig(per_class=2, seed=3, splits=("train",), image_size=16, entry_fields=4),
               progress=False)
    assert len(split_entries(tmp_path / "three", "train")[0]) == 3
    assert len(split_entries(tmp_path / "four", "train")[0]) == 4

    def strip(record):
        return (record.id, record.emotion, Path(record.image_path).name, record.brightness, record.scene,
                record.objects)

    _, three, _ = read(tmp_path / "three")
    _, four, _ = read(tmp_path / "four")
    assert [strip(r) for r in three["train"]] == [strip(r) for r in four["train"]]
    assert len(three["train"]) == 16


def test_four_field_entry_id_is_taken_from_the_entry(small_tree):
    entries = split_entries(small_tree, "train")
    emotion, image, annotation = entries[0]
    entries[0] = [emotion, "custom-id-1", image, annotation]
    write_split(small_tree, "train", entries)
    _, records, _ = read(small_tree)
    assert records["train"][0].id == "custom-id-1"


def test_tree_without_split_files_is_one_train_split(small_tree):
    for split in ("train", "val", "test"):
        (small_tree / f"{split}.json").unlink()
    source, records, quarantined = read(small_tree)
    assert source.splits == ("train",)
    assert len(records["train"]) == 72 and quarantined["train"] == []
    assert Counter(r.emotion for r in records["train"]) == {e: 9 for e in EMOTIONS}


def test_nested_tree_without_split_files_takes_emotion_from_annotation(tmp_path):
    """EmoSet-3.3M-style: deeper folders (e.g. per keyword); the annotation's emotion is authoritative."""
    synthesise(tmp_path / "flat", SynthConfig(per_class=1, seed=1, splits=("train",), image_size=16), progress=False)
    root = tmp_path / "deep"
    for kind, ext in (("annotation", ".json"), ("image", ".jpg")):
        for path in sorted((tmp_path / "flat" / kind).rglob(f"*{ext}")):
            target = root / kind / "keyword_x" / "part1" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (root / "info.json").write_bytes((tmp_path / "flat" / "info.json").read_bytes())
    _, records, quarantined = read(root)
    assert sorted(r.emotion for r in records["train"]) == sorted(EMOTIONS)
    assert quarantined["train"] == []


def test_scene_strings_are_normalised_before_the_vocabulary_check(small_tree):
    entries = split_entries(small_tree, "train")
    path = small_tree / entries[0][2]
    annotation = json.loads(path.read_text())
    annotation["scene"] = "  Amusement Park "
    path.write_text(json.dumps(annotation))
    _, records, quarantined = read(small_tree)
    assert quarantined["train"] == []
    assert records["train"][0].scene == "amusement_park"


def mutate_annotation(root, entry, **changes):
    path = root / entry[-1]
    annotation = json.loads(path.read_text())
    annotation.update(changes)
    path.write_text(json.dumps(annotation))
    return entry[-1]


@pytest.mark.parametrize(
    ("change", "code", "field", "needle"),
    [
        ({"emotion": "fear_x"}, "emotion_mismatch", "emotion", "field 'emotion' is 'fear_x'"),
        ({"scene": "moon_base"}, "out_of_vocabulary", "scene", "field 'scene' failed in_scene_vocabulary"),
        ({"object": ["Apple", "Unicorn"]}, "out_of_vocabulary", "object", "field 'objects' failed in_object"),
        ({"facial_expression": "smug"}, "out_of_vocabulary", "facial_expression", "'smug'"),
        ({"human_action": "teleporting"}, "out_of_vocabulary", "human_action", "'teleporting'"),
        ({"brightness": 1.5}, "out_of_range", "brightness", "less_than_or_equal_to(1.0)"),
        ({"colorfulness": 0.35}, "out_of_range", "colorfulness", "on_0.1_grid"),
        ({"brightness": "bright"}, "invalid_type", "brightness", "must be a number"),
        ({"object": "Apple"}, "invalid_type", "object", "must be a list of strings"),
    ],
)
def test_bad_annotation_values_are_quarantined_with_file_and_field(small_tree, change, code, field, needle):
    entry = split_entries(small_tree, "train")[5]
    rel = mutate_annotation(small_tree, entry, **change)
    _, records, quarantined = read(small_tree)
    bad = only_quarantined(quarantined)
    assert (bad.code, bad.field, bad.split, bad.stage) == (code, field, "train", "source")
    assert rel in bad.reason and needle in bad.reason
    assert len(records["train"]) == 23


def test_missing_and_unreadable_files(small_tree):
    entries = split_entries(small_tree, "train")
    (small_tree / entries[0][2]).unlink()                           # annotation gone
    (small_tree / entries[1][2]).write_text("{not json")            # annotation broken
    (small_tree / entries[2][2]).write_text("[1, 2]")               # annotation not an object
    (small_tree / entries[3][1]).unlink()                           # image gone
    (small_tree / entries[4][1]).write_bytes(b"\xff\xd8 definitely not a jpeg")
    mutate_annotation(small_tree, entries[5], emotion=None)         # emotion missing
    _, records, quarantined = read(small_tree)
    got = {(q.id, q.code, q.field) for q in quarantined["train"]}
    ids = [Path(e[2]).stem for e in entries[:6]]
    assert got == {
        (ids[0], "missing_annotation", "annotation_path"),
        (ids[1], "unreadable_annotation", "annotation_path"),
        (ids[2], "unreadable_annotation", "annotation_path"),
        (ids[3], "missing_image", "image_path"),
        (ids[4], "undecodable_image", "image_path"),
        (ids[5], "missing_field", "emotion"),
    }
    assert all(q.source in q.reason for q in quarantined["train"])
    assert len(records["train"]) == 24 - 6


def test_skipping_image_verification_keeps_a_corrupt_image(small_tree):
    entries = split_entries(small_tree, "train")
    (small_tree / entries[0][1]).write_bytes(b"garbage")
    _, records, quarantined = read(small_tree, verify_images=False)
    assert quarantined["train"] == [] and len(records["train"]) == 24


def test_duplicate_ids_within_and_across_splits(small_tree):
    train = split_entries(small_tree, "train")
    write_split(small_tree, "train", train + [train[0]])
    val = split_entries(small_tree, "val")
    write_split(small_tree, "val", val + [train[1]])
    _, records, quarantined = read(small_tree)
    assert [(q.code, q.field) for q in quarantined["train"]] == [("duplicate_id", "id")]
    dup = only_quarantined(quarantined, "val")
    assert dup.code == "duplicate_id" and "already seen in split train" in dup.reason
    assert len(records["train"]) == 24 and len(records["val"]) == 24


def test_paths_escaping_the_root_are_never_opened(small_tree, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps({"emotion": "awe"}))
    (outside / "secret.jpg").write_bytes((small_tree / split_entries(small_tree, "val")[0][1]).read_bytes())
    entries = split_entries(small_tree, "train")
    entries[0] = [entries[0][0], entries[0][1], "annotation/../../outside/secret.json"]
    entries[1] = [entries[1][0], str(outside / "secret.jpg"), entries[1][2]]
    # a symlinked file and a symlinked directory, both pointing outside
    os.unlink(small_tree / entries[2][1])
    os.symlink(outside / "secret.jpg", small_tree / entries[2][1])
    (small_tree / "image" / "linked").symlink_to(outside, target_is_directory=True)
    entries[3] = [entries[3][0], "image/linked/secret.jpg", entries[3][2]]
    write_split(small_tree, "train", entries)
    _, records, quarantined = read(small_tree)
    codes = [(q.code, q.field) for q in quarantined["train"]]
    assert codes == [("path_escape", "annotation_path"), ("path_escape", "image_path"),
                     ("path_escape", "image_path"), ("path_escape", "image_path")]
    assert all("not opened" in q.reason for q in quarantined["train"])
    assert len(records["train"]) == 20


def test_ids_that_are_not_plain_file_names_are_quarantined(small_tree):
    """A 4-field entry's id becomes a file name in exports: path-like or odd ids never get that far."""
    entries = split_entries(small_tree, "train")
    bad_ids = ["../../../x", "sub/dir/x", "..", ".hidden", "a\\b", "", "x" * 201]
    for index, bad in enumerate(bad_ids):
        emotion, image, annotation = entries[index]
        entries[index] = [emotion, bad, image, annotation]
    entries[len(bad_ids)] = [entries[len(bad_ids)][0], "fine_id-1.v2", *entries[len(bad_ids)][1:]]
    write_split(small_tree, "train", entries)
    _, records, quarantined = read(small_tree)
    assert [(q.id, q.code, q.field, q.source) for q in quarantined["train"]] == [
        (bad, "invalid_id", "id", "train.json") for bad in bad_ids]
    assert "is not a plain file name" in quarantined["train"][0].reason
    assert "fine_id-1.v2" in {r.id for r in records["train"]} and len(records["train"]) == 24 - len(bad_ids)


def test_symlink_inside_the_root_is_allowed(small_tree):
    entries = split_entries(small_tree, "train")
    target = small_tree / entries[0][1]
    link = target.with_name("alias.jpg")
    os.symlink(target, link)
    entries[0] = [entries[0][0], str(link.relative_to(small_tree)), entries[0][2]]
    write_split(small_tree, "train", entries)
    _, records, quarantined = read(small_tree)
    assert quarantined["train"] == [] and len(records["train"]) == 24


def test_malformed_entries_are_quarantined_not_fatal(small_tree):
    entries = split_entries(small_tree, "train")
    write_split(small_tree, "train", entries + [["awe", "image/awe/x.jpg"], 42])
    _, records, quarantined = read(small_tree)
    assert [q.code for q in quarantined["train"]] == ["malformed_entry", "malformed_entry"]
    assert [q.id for q in quarantined["train"]] == ["train#24", "train#25"]


@pytest.mark.parametrize("content", ["{\"not\": \"a list\"}", "[[\"awe\", \"a\", \"b\"], ", "garbage"])
def test_malformed_split_file_is_a_clear_error(small_tree, content):
    (small_tree / "val.json").write_text(content)
    source = EmoSetSource(small_tree)
    with pytest.raises(SourceError, match=r"val\.json: malformed split file"):
        list(source.read("val"))


def test_missing_root_and_missing_vocabulary_are_errors(small_tree, tmp_path):
    with pytest.raises(SourceError, match="EmoSet root not found"):
        EmoSetSource(tmp_path / "nope")
    (small_tree / "info.json").unlink()
    with pytest.raises(SourceError, match=r"info\.json: missing"):
        EmoSetSource(small_tree, vocab_fallback=False)
    assert EmoSetSource(small_tree).vocab.source.startswith("package:")


def test_vocabulary_comes_from_the_trees_info_json(small_tree):
    info = json.loads((small_tree / "info.json").read_text())
    info["scene"]["label2idx"] = {"alley": 0}
    (small_tree / "info.json").write_text(json.dumps(info))
    source, records, quarantined = read(small_tree)
    assert source.vocab.scenes == frozenset({"alley"})
    kept_scenes = {r.scene for split in records.values() for r in split}
    assert kept_scenes <= {"alley", None}
    assert all(q.code == "out_of_vocabulary" and q.field == "scene" for split in quarantined.values() for q in split)


def test_accounting_identity_holds_per_split(small_tree):
    entries = split_entries(small_tree, "val")
    (small_tree / entries[0][1]).unlink()
    mutate_annotation(small_tree, entries[1], scene="nowhere")
    write_split(small_tree, "val", entries + [entries[2]])
    source = EmoSetSource(small_tree)
    for split in source.splits:
        n_entries = len(split_entries(small_tree, split))
        kept = quarantined = 0
        for batch in source.read(split):
            kept += len(batch.records)
            quarantined += len(batch.quarantined)
        assert n_entries == kept + quarantined
        assert quarantined == (3 if split == "val" else 0)


def test_small_chunks_give_the_same_result(small_tree):
    mutate_annotation(small_tree, split_entries(small_tree, "train")[7], scene="nowhere")
    _, big, big_q = read(small_tree)
    _, small, small_q = read(small_tree, chunk_size=5)
    assert big == small
    assert big_q == small_q
