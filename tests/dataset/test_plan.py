"""The build plan: shards of entry references, per-class positions and duplicate ids, streamed."""

from __future__ import annotations

import json
from collections import Counter

from builder.dataset.plan import plan_splits, read_shard
from builder.sources.emoset import EmoSetSource
from builder.sources.records import QuarantineEntry


def test_shards_hold_every_entry_once_with_class_positions_and_duplicates(small_tree, tmp_path):
    train = json.loads((small_tree / "train.json").read_text())
    val = json.loads((small_tree / "val.json").read_text())
    val += [train[3], train[20], "broken"]       # ids first seen in train, then a malformed entry
    train.append(train[0])                        # a repeat within train, in the last shard
    (small_tree / "train.json").write_text(json.dumps(train))
    (small_tree / "val.json").write_text(json.dumps(val))
    source = EmoSetSource(small_tree, verify_images=False)
    plans = plan_splits(source, ("train", "val"), tmp_path / "plan", shard_size=10, class_positions=True)

    assert [s.entries for s in plans["train"].shards] == [10, 10, 5] and plans["train"].entries == 25
    assert [s.entries for s in plans["val"].shards] == [10, 10, 7] and plans["val"].entries == 27
    entries = [e for shard in plans["train"].shards for e in read_shard(shard)]
    assert [e.position for e, _, _ in entries] == list(range(25))
    # the position within the class counts the split list in order, by the class each entry states
    seen: Counter = Counter()
    for (entry, index, _), raw in zip(entries, train):
        assert (entry.emotion, index) == (raw[0], seen[raw[0]])
        seen[raw[0]] += 1
    assert plans["train"].shards[2].duplicates == {24: "train"}
    assert plans["val"].shards[2].duplicates == {24: "train", 25: "train"}
    assert [s.duplicates for s in plans["val"].shards[:2]] == [{}, {}]
    assert isinstance(read_shard(plans["val"].shards[2])[-1][0], QuarantineEntry)


def test_split_less_trees_take_the_class_from_the_annotation(small_tree, tmp_path):
    for name in ("train", "val", "test"):
        (small_tree / f"{name}.json").unlink()
    source = EmoSetSource(small_tree, verify_images=False)
    plans = plan_splits(source, source.splits, tmp_path / "plan", shard_size=1000, class_positions=True)
    entries = read_shard(plans["train"].shards[0])
    assert len(entries) == 72
    per_class = Counter()
    for entry, index, _ in entries:
        emotion = json.loads((small_tree / entry.annotation).read_text())["emotion"]
        assert index == per_class[emotion]
        per_class[emotion] += 1
