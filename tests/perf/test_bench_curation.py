"""``emovit curate load`` and the quality signals on a 10,000-image build, with FiftyOne's real ``mongod``.

Target: the load (reading the build, adding the samples, setting their labels and instruction flags) runs
at 1,000 images/s or more. The signals (pixel attributes, tiny-image embeddings, near-duplicates,
uniqueness, PCA plot, saved views) are timed per phase. Run with
``pytest tests/perf/test_bench_curation.py --benchmark-enable -s``; ``EMOVIT_BENCH_SCALE`` scales the size.
"""

from __future__ import annotations

import pytest

from tests.support.scale import scaled


@pytest.fixture(scope="module")
def fiftyone_bench(tmp_path_factory):
    from builder.curation.database import private_database

    with private_database(tmp_path_factory.mktemp("bench-fiftyone")) as fo:
        yield fo


@pytest.fixture(scope="module")
def build_10k(tmp_path_factory):
    """A build of 10,000 synthetic train images (1,250 per class, 8 px), ``all`` config, EmoVIT sampling."""
    from builder.dataset.build import BuildConfig, build_dataset
    from builder.sources.synth import SynthConfig, synthesise

    base = tmp_path_factory.mktemp("bench-curation")
    synthesise(base / "emoset", SynthConfig(per_class=scaled(1250), seed=0, splits=("train",), image_size=8),
               progress=False)
    build_dataset(BuildConfig(emoset_root=str(base / "emoset"), config="all", verify_images=False), base / "build",
                  cache_dir=base / "cache", progress=False, plots=False)
    return base / "build"


def test_curate_load(benchmark, fiftyone_bench, build_10k):
    from builder.curation.images import read_build
    from builder.curation.loader import load_source

    runs = iter(range(100))

    def load_once():
        source = read_build(build_10k, progress=False)
        return load_source(source, f"bench-load-{next(runs)}", progress=False)

    result = benchmark.pedantic(load_once, rounds=3, iterations=1)
    assert result.added == result.images == 8 * scaled(1250)
    rate = result.images / benchmark.stats.stats.mean
    benchmark.extra_info.update({"images": result.images, "images_per_s": round(rate, 1)})
    print(f"\ncurate load: {result.images:,} images in {benchmark.stats.stats.mean:.2f} s mean "
          f"({rate:,.0f} images/s; target >= 1,000)")


def test_signals(benchmark, fiftyone_bench, build_10k):
    from builder.curation.images import read_build
    from builder.curation.loader import load_source
    from builder.curation.signals import SignalConfig, compute_signals

    load_source(read_build(build_10k, progress=False), "bench-signals", progress=False)
    dataset = fiftyone_bench.load_dataset("bench-signals")
    summary = benchmark.pedantic(lambda: compute_signals(dataset, SignalConfig(), progress=False),
                                 rounds=1, iterations=1)
    assert summary.images == len(dataset)
    benchmark.extra_info.update({"images": summary.images, "seconds": summary.seconds})
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.seconds.items())
    print(f"\nsignals on {summary.images:,} images: {benchmark.stats.stats.mean:.1f} s ({phases})")
