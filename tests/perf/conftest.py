"""Shared fixtures for the performance suites (sizes can be scaled down with EMOVIT_BENCH_SCALE)."""

from __future__ import annotations

import os

import pytest


def scaled(count: int) -> int:
    """``count`` times EMOVIT_BENCH_SCALE (default 1), at least 1."""
    return max(1, int(count * float(os.environ.get("EMOVIT_BENCH_SCALE", "1"))))


@pytest.fixture(scope="session")
def bench_tree(tmp_path_factory):
    """A synthetic EmoSet tree of 20,000 train images (2,500 per class), 8 px JPEGs."""
    from builder.sources.synth import SynthConfig, synthesise

    root = tmp_path_factory.mktemp("bench") / "emoset"
    synthesise(root, SynthConfig(per_class=scaled(2500), seed=0, splits=("train",), image_size=8), progress=False)
    return root
