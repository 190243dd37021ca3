"""Fixtures shared by every test package."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from builder.sources.synth import SynthConfig, synthesise

#: EmoSet's real split lists, compressed, with their licence note (tests/fixtures/emoset/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "emoset"


@pytest.fixture(scope="session")
def emoset_split_lists(tmp_path_factory) -> Path:
    """A folder holding EmoSet's real ``val.json`` and ``test.json`` (decompressed from the fixtures)."""
    folder = tmp_path_factory.mktemp("emoset_lists")
    for name in ("val.json", "test.json"):
        (folder / name).write_bytes(gzip.decompress((FIXTURES / f"{name}.gz").read_bytes()))
    return folder


@pytest.fixture(scope="session")
def small_tree_template(tmp_path_factory) -> Path:
    """A synthetic tree with 3 images per class in train/val/test (written once per session)."""
    root = tmp_path_factory.mktemp("small_tree") / "emoset"
    synthesise(root, SynthConfig(per_class=3, seed=7, splits=("train", "val", "test"), image_size=16), progress=False)
    return root


@pytest.fixture
def small_tree(small_tree_template, tmp_path) -> Path:
    """A private, mutable copy of the small synthetic tree."""
    root = tmp_path / "emoset"
    shutil.copytree(small_tree_template, root)
    return root
