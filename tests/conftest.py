"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.synth import SynthConfig, synthesise

#: The real EmoSet split lists and vocabulary, beside the checkout (read-only reference material).
SHARED_EMOSET = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "emoset"


@pytest.fixture(scope="session")
def shared_emoset() -> Path:
    """Folder holding EmoSet's real ``info.json``, ``val.json`` and ``test.json``."""
    if not SHARED_EMOSET.is_dir():
        pytest.fail(f"reference fixtures not found at {SHARED_EMOSET}")
    return SHARED_EMOSET


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
