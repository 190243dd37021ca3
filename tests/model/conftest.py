"""Fixtures of the model tests: tiny zoo checkpoints and small categorical datasets built from synthetic trees.

:func:`build_categorical_dataset` stands in for ``emovit build`` (categorical config) so these tests do not
depend on the dataset builder; swap it for the real builder once that lands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token
from builder.synth import SynthConfig, synthesise


def categorical_rows(tree: Path, split: str) -> list[dict]:
    """One categorical instruction row per source record of ``split``."""
    from builder.source import EmoSetSource

    rows = []
    for record in EmoSetSource(tree).records(split):
        rows.append({
            "id": f"{record.id}-categorical",
            "image_id": record.id,
            "image": record.image_path,
            "emotion": record.emotion,
            "attributes": record.attributes(),
            "caption": "",
            "kind": "categorical",
            "conversations": [
                {"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
                {"from": "gpt", "value": categorical_answer(record.emotion)},
            ],
            "generator": {"backend": "categorical", "model": None, "prompt_version": None,
                          "temperature": None, "seed": None},
        })
    return rows


def build_categorical_dataset(root: Path, *, per_class: int, seed: int, splits=("train", "val")) -> Path:
    """Synthesise an EmoSet tree under ``root/tree`` and save a categorical DatasetDict to ``root/dataset``."""
    import datasets

    from builder.features import instruction_features

    tree, out = root / "tree", root / "dataset"
    synthesise(tree, SynthConfig(per_class=per_class, seed=seed, splits=tuple(splits)), progress=False)
    features = instruction_features()
    built = datasets.DatasetDict({
        split: datasets.Dataset.from_list(categorical_rows(tree, split), features=features) for split in splits
    })
    built.save_to_disk(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_instructblip(tmp_path_factory) -> Path:
    """A tiny random InstructBLIP checkpoint (zoo defaults, seed 0)."""
    from emovit_model.zoo import build_tiny

    return build_tiny("instructblip", tmp_path_factory.mktemp("zoo") / "instructblip", seed=0)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """Categorical dataset, 4 images per class in train and val (32 + 32 rows)."""
    return build_categorical_dataset(tmp_path_factory.mktemp("small_ds"), per_class=4, seed=3)


@pytest.fixture(scope="session")
def learning_dataset(tmp_path_factory) -> Path:
    """Categorical dataset large enough for the learning check: 96 images per class in train and val."""
    root = tmp_path_factory.mktemp("learning_ds")
    return build_categorical_dataset(root, per_class=96, seed=11)
