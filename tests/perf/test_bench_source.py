"""Reader + validation throughput on a synthetic tree of 20,000 entries (records/s)."""

from __future__ import annotations

import pytest

from builder.sources.validate import ValidateConfig, validate_tree


@pytest.mark.parametrize("verify_images", [False, True], ids=["no-verify", "verify"])
def test_reader_and_validation_throughput(benchmark, bench_tree, verify_images):
    config = ValidateConfig(emoset_root=str(bench_tree), verify_images=verify_images)
    report = benchmark.pedantic(validate_tree, args=(config,), rounds=3, iterations=1, warmup_rounds=1)
    entries = report.tallies["train"].inputs
    assert report.tallies["train"].kept == entries
    rate = entries / benchmark.stats.stats.mean
    benchmark.extra_info.update({"entries": entries, "records_per_s": round(rate, 1)})
    print(f"\nreader+validation ({'verify' if verify_images else 'no verify'}): {entries} entries, {rate:,.0f} records/s")
