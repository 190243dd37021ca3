"""Held-out readers: labels read and files checked (path checks, existence, schema validation), image decoding
off, on 20,000-image trees in three layouts: a label file plus class folders (Emotion6), class folders alone
(FI) and URL lists (WEBEmo, with its 20,000-line train list read for the overlap report). Target: at least
10,000 images/s."""

from __future__ import annotations

import pytest

from builder.sources.heldout import read_heldout
from builder.sources.layouts import LayoutConfig, write_layout
from tests.support.scale import scaled

#: Images per class giving about 20,000 images: Emotion6 6 classes, FI 8, WEBEmo 25.
PER_CLASS = {"emotion6": 3334, "fi": 2500, "webemo": 800}
TARGET_IMAGES_PER_S = 10_000


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout_bench")
    for layout, per_class in PER_CLASS.items():
        write_layout(root / layout, LayoutConfig(layout, per_class=scaled(per_class), image_size=8))
    return {layout: root / layout for layout in PER_CLASS}


@pytest.mark.parametrize("layout", list(PER_CLASS))
def test_reading_labels_and_checking_files(benchmark, trees, layout):
    read = benchmark.pedantic(read_heldout, args=(layout, trees[layout]), kwargs={"verify_images": False},
                              rounds=3, iterations=1, warmup_rounds=1)
    assert read.rows + len(read.quarantined) == read.entries
    rate = read.entries / benchmark.stats.stats.mean
    benchmark.extra_info.update({"entries": read.entries, "images_per_s": round(rate)})
    print(f"\n{layout}: {read.entries} entries ({read.rows} rows), {rate:,.0f} images/s "
          f"(mean of 3 rounds, decoding off)")
    if read.entries >= 20_000:
        assert rate >= TARGET_IMAGES_PER_S
