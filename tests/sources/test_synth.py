import hashlib
import json
from collections import Counter

import pytest

from builder.sources.emoset import EmoSetSource
from builder.sources.pixels import pixel_attributes
from builder.sources.synth import ATTRIBUTE_POOLS, SynthConfig, synthesise
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS, Vocabulary


def tree_digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = SynthConfig(per_class=2, seed=11, splits=("train", "val"), image_size=16)
    synthesise(tmp_path / "a", config, progress=False)
    synthesise(tmp_path / "b", config, progress=False)
    synthesise(tmp_path / "c", SynthConfig(per_class=2, seed=12, splits=("train", "val"), image_size=16),
               progress=False)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_annotations_match_pixels_and_vocabulary(small_tree):
    vocab = Vocabulary.default()
    records = [r for split in ("train", "val", "test") for r in EmoSetSource(small_tree).records(split)]
    assert len(records) == 72
    for record in records:
        attrs = pixel_attributes(record.image_path)
        assert (record.brightness, record.colorfulness) == (attrs.brightness, attrs.colorfulness)
    assert len({r.brightness for r in records}) >= 4, "brightness should vary across images"
    for scenes, objects, actions in ATTRIBUTE_POOLS.values():
        assert set(scenes) <= vocab.scenes and set(objects) <= vocab.objects and set(actions) <= vocab.human_actions


def test_class_signal_is_separable_by_mean_hue(small_tree):
    """The hue owned by each class survives JPEG: a nearest-hue rule recovers every label."""
    import numpy as np
    from PIL import Image

    for record in EmoSetSource(small_tree).records("train"):
        hue = np.asarray(Image.open(record.image_path).convert("HSV"))[..., 0].astype(float)
        angle = np.angle(np.exp(2j * np.pi * hue / 256).mean()) % (2 * np.pi)
        predicted = int(np.round(angle / (2 * np.pi) * 8)) % 8
        assert EMOTIONS[predicted] == record.emotion


@pytest.mark.slow
def test_real_val_and_test_split_files_are_laid_out_exactly(tmp_path, emoset_split_lists):
    root = tmp_path / "real"
    counts = synthesise(root, SynthConfig(splits=(), split_files=(str(emoset_split_lists / "val.json"),
                                                                  str(emoset_split_lists / "test.json")),
                                          image_size=8), progress=False)
    assert counts == {"val": 5905, "test": 17716}
    assert (root / "val.json").read_text() == json.dumps(json.loads((emoset_split_lists / "val.json").read_text()))
    source = EmoSetSource(root, verify_images=False)
    tallies = {}
    for split in ("val", "test"):
        kept = Counter()
        quarantined = 0
        for batch in source.read(split):
            kept.update(r.emotion for r in batch.records)
            quarantined += len(batch.quarantined)
        tallies[split] = (kept, quarantined)
    assert tallies["val"] == (Counter({"amusement": 994, "excitement": 977, "contentment": 817, "awe": 755,
                                       "fear": 693, "sadness": 613, "disgust": 538, "anger": 518}), 0)
    assert tallies["test"] == (Counter({"excitement": 3014, "amusement": 2770, "contentment": 2484, "awe": 2260,
                                        "fear": 1974, "sadness": 1845, "anger": 1708, "disgust": 1661}), 0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"per_class": -1}, "per_class must be >= 0"),
    ({"image_size": 4}, "image_size must be >= 8"),
    ({"entry_fields": 5}, "entry_fields must be 3 or 4"),
    ({"splits": ()}, "nothing to write"),
])
def test_config_is_validated(kwargs, message):
    with pytest.raises(UsageError, match=message):
        SynthConfig(**kwargs)
