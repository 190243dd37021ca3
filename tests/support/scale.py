"""Sizes of the performance suites, scaled by ``EMOVIT_BENCH_SCALE`` (default 1) for a quick run."""

from __future__ import annotations

import os


def scaled(count: int) -> int:
    """``count`` times EMOVIT_BENCH_SCALE (default 1), at least 1."""
    return max(1, int(count * float(os.environ.get("EMOVIT_BENCH_SCALE", "1"))))


__all__ = ["scaled"]
