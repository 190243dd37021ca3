"""Builds shared by the dataset tests."""

from __future__ import annotations

import pytest

from builder.dataset.build import BuildConfig, build_dataset


@pytest.fixture
def build():
    """``build(tree, out, cache, **BuildConfig options)`` with the offline defaults; returns the report."""

    def run(tree, out, cache, **options):
        return build_dataset(BuildConfig(emoset_root=str(tree), **options), out, cache_dir=cache, progress=False,
                             plots=False)

    return run


@pytest.fixture(scope="session")
def built_all(small_tree_template, tmp_path_factory):
    """The ``all`` config of the small tree, every kind for every image, with the Markdown report."""
    base = tmp_path_factory.mktemp("built_all")
    out = base / "build"
    report = build_dataset(BuildConfig(emoset_root=str(small_tree_template), config="all", sampling="all"), out,
                           cache_dir=base / "cache", progress=False, plots=True)
    return out, report
