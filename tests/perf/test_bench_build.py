"""``emovit build`` throughput and memory.

Throughput (``test_build_throughput``): a categorical template build of the 20,000-image bench tree (images by
path, 8-px JPEGs, ``--no-verify-images``) with ``num_proc=2``, measured against two references taken in the
same run:

* the **writer ceiling**: the ``datasets`` ``ArrowWriter`` alone writing the same rows (made in memory
  beforehand) with the same features, one example at a time as a generator-based builder does, in one
  process;
* the **naive merge**: the original EmoVIT way, one file at a time: open each annotation, copy the image,
  append a LLaVA dict, dump one JSON.

Image verification (``test_build_image_verification_cost``): the same build with images verified (each decoded,
JPEGs at 1/8 scale, and hashed, in the shard worker processes) against ``--no-verify-images`` (each file and its
header checked); the ratio of the medians is the cost of decoding.

Memory (``test_build_peak_memory_is_flat``): the same build of 20,000 and of 200,000 entries, each in its own
subprocess (one process, plots on, as ``emovit build`` runs by default), recording that process's own peak RSS
(``VmHWM``, :mod:`tests.support.memory`; ``getrusage`` would report the pytest process's peak instead).

Run: ``pytest tests/perf/test_bench_build.py --benchmark-enable -s`` (``EMOVIT_BENCH_SCALE`` shrinks trees).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time

from builder.dataset.build import BuildConfig, build_dataset
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token
from tests.support.memory import measured_run
from tests.support.scale import scaled


def naive_merge(root, out) -> int:
    """One file at a time, as the original scripts did; returns the number of records written."""
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    merged = []
    for emotion, image, annotation in json.load(open(os.path.join(root, "train.json"))):
        with open(os.path.join(root, annotation)) as handle:
            data = json.load(handle)
        target = os.path.join(out, "images", os.path.basename(image))
        shutil.copy(os.path.join(root, image), target)
        merged.append({
            "id": os.path.basename(image)[:-4], "image": target,
            "conversations": [{"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
                              {"from": "gpt", "value": categorical_answer(data["emotion"])}],
        })
    with open(os.path.join(out, "merged.json"), "w") as handle:
        json.dump(merged, handle)
    return len(merged)


def writer_ceiling(build_dir, out) -> tuple[int, float]:
    """Rows of a finished build, rebuilt as plain dicts in memory, written one by one with ``ArrowWriter``
    and the build's features; returns (rows, seconds spent writing)."""
    import datasets
    from datasets.arrow_writer import ArrowWriter

    split = datasets.load_from_disk(str(build_dir))["train"]
    features = split.features
    rows = split.cast_column("image", datasets.Image(decode=False)).to_list()
    for row in rows:
        row["image"] = row["image"]["path"]  # a path, as the builder hands it over
    start = time.perf_counter()
    with ArrowWriter(features=features, path=str(out)) as writer:
        for row in rows:
            writer.write(features.encode_example(row))
        writer.finalize()
    return len(rows), time.perf_counter() - start


def test_build_throughput(benchmark, bench_tree, tmp_path):
    start = time.perf_counter()
    naive_records = naive_merge(bench_tree, tmp_path / "naive")
    naive_rate = naive_records / (time.perf_counter() - start)

    config = BuildConfig(emoset_root=str(bench_tree), config="categorical", sampling="all", verify_images=False)
    runs = iter(range(100))

    def build_once():
        return build_dataset(config, tmp_path / f"build-{next(runs)}", cache_dir=tmp_path / "cache",
                             progress=False, plots=False, num_proc=2)

    report = benchmark.pedantic(build_once, rounds=3, iterations=1, warmup_rounds=1)
    samples = report["splits"]["train"]["samples"]
    assert samples == naive_records
    rate = samples / benchmark.stats.stats.median
    written, seconds = writer_ceiling(tmp_path / "build-0", tmp_path / "ceiling.arrow")
    ceiling = written / seconds
    benchmark.extra_info.update({
        "records": samples, "records_per_s": round(rate, 1), "writer_ceiling_per_s": round(ceiling, 1),
        "naive_records_per_s": round(naive_rate, 1), "ratio_to_ceiling": round(rate / ceiling, 3),
        "ratio_to_naive": round(rate / naive_rate, 2)})
    print(f"\nemovit build (num_proc 2, median of 3): {rate:,.0f} records/s; datasets writer ceiling "
          f"{ceiling:,.0f} records/s ({rate / ceiling:.0%}); naive merge {naive_rate:,.0f} records/s "
          f"({rate / naive_rate:.1f}x)")


def test_build_image_verification_cost(benchmark, bench_tree, tmp_path):
    runs = iter(range(100))

    def build_once(verify: bool) -> dict:
        config = BuildConfig(emoset_root=str(bench_tree), config="categorical", sampling="all", verify_images=verify)
        out = tmp_path / f"build-{next(runs)}"
        report = build_dataset(config, out, cache_dir=tmp_path / "cache", progress=False, plots=False, num_proc=2)
        shutil.rmtree(out)
        return report

    build_once(False)  # warm-up: page cache, imports
    unverified = []
    for _ in range(3):
        start = time.perf_counter()
        build_once(False)
        unverified.append(time.perf_counter() - start)
    report = benchmark.pedantic(build_once, args=(True,), rounds=3, iterations=1)
    images = report["splits"]["train"]["images_in_dataset"]
    assert images == report["splits"]["train"]["entries"] and report["cross_split_duplicates"]["checked"]
    ratio = benchmark.stats.stats.median / statistics.median(unverified)
    benchmark.extra_info.update({"images": images, "verified_s": round(benchmark.stats.stats.median, 2),
                                 "unverified_s": round(statistics.median(unverified), 2),
                                 "ratio_verified_to_unverified": round(ratio, 3)})
    print(f"\nemovit build of {images:,} images (num_proc 2, median of 3): verified {benchmark.stats.stats.median:.1f} s, "
          f"--no-verify-images {statistics.median(unverified):.1f} s; ratio {ratio:.2f}")


_MEASURE = """
import sys
from builder.dataset.build import BuildConfig, build_dataset
root, out, cache = sys.argv[1:4]
build_dataset(BuildConfig(emoset_root=root, config="categorical", sampling="all", verify_images=False), out,
              cache_dir=cache, progress=False, plots=True)
"""


def _synth(root, per_class: int):
    from builder.sources.synth import SynthConfig, synthesise

    synthesise(root, SynthConfig(per_class=per_class, seed=0, splits=("train",), image_size=8), progress=False)


def test_build_peak_memory_is_flat(tmp_path):
    sizes = {"small": scaled(2500), "large": scaled(25000)}  # per class: 20,000 and 200,000 entries
    peaks, entries = {}, {}
    for name, per_class in sizes.items():
        root = tmp_path / name
        _synth(root, per_class)
        _, peaks[name] = measured_run(_MEASURE, root, tmp_path / f"out-{name}", tmp_path / "cache")
        entries[name] = per_class * 8
        shutil.rmtree(root)
        shutil.rmtree(tmp_path / f"out-{name}")
    ratio = peaks["large"] / peaks["small"]
    print(f"\npeak RSS: {entries['small']:,} entries {peaks['small']:.0f} MiB; {entries['large']:,} entries "
          f"{peaks['large']:.0f} MiB; ratio {ratio:.2f}")
    assert ratio <= 1.3
