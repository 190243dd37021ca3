"""The performance suites (pytest-benchmark): marked ``perf`` and run only when measuring.

``pytest`` alone leaves them out (they are deselected: each builds trees of 20,000 to 200,000 entries);
``pytest tests/perf --benchmark-enable -s`` runs and times them. ``EMOVIT_BENCH_SCALE`` (default 1) shrinks
their sizes for a quick run (:func:`tests.support.scale.scaled`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scale import scaled

HERE = Path(__file__).resolve().parent


def _measuring(config) -> bool:
    return bool(config.getoption("benchmark_enable", default=False))


def pytest_collection_modifyitems(config, items):
    perf = [item for item in items if Path(str(item.path)).resolve().is_relative_to(HERE)]
    for item in perf:
        item.add_marker(pytest.mark.perf)
    if perf and not _measuring(config):
        chosen = set(map(id, perf))
        items[:] = [item for item in items if id(item) not in chosen]
        config.hook.pytest_deselected(items=perf)


def pytest_report_header(config):
    if not _measuring(config):
        return "performance suites (tests/perf): deselected; run them with --benchmark-enable"
    return None


@pytest.fixture(scope="session")
def bench_tree(tmp_path_factory):
    """A synthetic EmoSet tree of 20,000 train images (2,500 per class), 8 px JPEGs."""
    from builder.sources.synth import SynthConfig, synthesise

    root = tmp_path_factory.mktemp("bench") / "emoset"
    synthesise(root, SynthConfig(per_class=scaled(2500), seed=0, splits=("train",), image_size=8), progress=False)
    return root
