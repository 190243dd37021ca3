"""``emovit build`` (categorical, template generator, images by path) versus a naive merge script.

The naive baseline mimics the original EmoVIT merge step: for every image, open its annotation, copy the
image file into an output folder, append a LLaVA-style dict to a list, and dump one JSON at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import time

from builder.build import BuildConfig, build_dataset
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token


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


def test_build_versus_naive_merge(benchmark, bench_tree, tmp_path):
    start = time.perf_counter()
    naive_records = naive_merge(bench_tree, tmp_path / "naive")
    naive_rate = naive_records / (time.perf_counter() - start)

    config = BuildConfig(emoset_root=str(bench_tree), config="categorical", sampling="all", verify_images=False)
    runs = iter(range(100))

    def build_once():
        return build_dataset(config, tmp_path / f"build-{next(runs)}", cache_dir=tmp_path / "cache",
                             progress=False, plots=False)

    report = benchmark.pedantic(build_once, rounds=2, iterations=1)
    samples = report["splits"]["train"]["samples"]
    assert samples == naive_records
    rate = samples / benchmark.stats.stats.mean
    benchmark.extra_info.update({"records": samples, "records_per_s": round(rate, 1),
                                 "naive_records_per_s": round(naive_rate, 1), "ratio": round(rate / naive_rate, 2)})
    print(f"\nemovit build: {rate:,.0f} records/s; naive merge: {naive_rate:,.0f} records/s; "
          f"ratio {rate / naive_rate:.1f}x")
