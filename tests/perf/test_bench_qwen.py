"""Rank-mode throughput of the tiny Qwen2.5-VL (dynamic resolution, M-RoPE, the image-only processor) on CPU.

Run with::

    .venv/bin/python -m pytest tests/perf/test_bench_qwen.py --benchmark-enable -s

The same 64 synthetic images in four sizes (32 x 32, 32 x 48, 48 x 32, 48 x 48: 4 to 9 image tokens each, so a
batch mixes grids) are ranked over the eight answers by :class:`emovit_model.scoring.EmotionClassifier`, at batch
1 and batch 16, and answered greedily (12 new tokens) at both; 5 rounds, the fastest used (on a shared machine
other work only slows a round down). The last test prints images/s and the batch-16 speed-up and asserts at least
4x for ranking. One torch thread (``EMOVIT_BENCH_THREADS`` to change), as in ``test_bench_inference.py``.
"""

from __future__ import annotations

import os

import pytest

from tests.support.scale import scaled

IMAGES = scaled(64)
THREADS = int(os.environ.get("EMOVIT_BENCH_THREADS", "1"))
SECONDS_PER_IMAGE: dict[tuple[str, int], float] = {}
CASES = [(mode, batch) for mode in ("rank", "generate") for batch in (1, 16)]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    import torch

    from emovit_model.scoring import EmotionClassifier
    from emovit_model.zoo import build_tiny

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    path = build_tiny("qwen2.5-vl", tmp_path_factory.mktemp("bench_qwen") / "qwen2.5-vl")
    yield EmotionClassifier.from_pretrained(path, device="cpu", dtype="float32")
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def images():
    import numpy as np

    from builder.sources.synth import render_image
    from schemas.vocab import EMOTIONS

    rng = np.random.default_rng(0)
    sizes = [(32, 32), (48, 32), (32, 48), (48, 48)]  # (width, height)
    return [render_image(EMOTIONS[i % len(EMOTIONS)], rng, 48).resize(sizes[i % 4]) for i in range(IMAGES)]


@pytest.mark.parametrize("mode, batch", CASES, ids=[f"qwen2.5-vl-{m}-batch{b}" for m, b in CASES])
def test_qwen_throughput(benchmark, classifier, images, mode, batch):
    chosen = classifier.with_options(batch_size=batch)
    run = chosen.score if mode == "rank" else (lambda x: chosen.generate(x, max_new_tokens=12))
    result = benchmark.pedantic(run, args=(images,), rounds=5, iterations=1, warmup_rounds=1)
    assert len(result) == len(images)
    if benchmark.stats is not None:
        per_image = benchmark.stats.stats.min / len(images)
        SECONDS_PER_IMAGE[(mode, batch)] = per_image
        benchmark.extra_info.update({"images": len(images), "images_per_second": round(1 / per_image, 1),
                                     "batch_size": batch, "mode": mode, "torch_threads": THREADS,
                                     "model": "tiny qwen2.5-vl (zoo defaults, image-only processor)"})


def test_qwen_speedup(benchmark):
    """Batch 16 over batch 1 per image: at least 4x for ranking (generation reported)."""
    if len(SECONDS_PER_IMAGE) < len(CASES):
        pytest.skip("run with --benchmark-enable (the throughput benchmarks must have measured)")
    speedups = {mode: SECONDS_PER_IMAGE[(mode, 1)] / SECONDS_PER_IMAGE[(mode, 16)] for mode in ("rank", "generate")}
    print("\n" + "\n".join(
        f"qwen2.5-vl {mode:<8} batch 1: {1 / SECONDS_PER_IMAGE[(mode, 1)]:7.1f} img/s   batch 16: "
        f"{1 / SECONDS_PER_IMAGE[(mode, 16)]:7.1f} img/s   speed-up {speedups[mode]:4.1f}x" for mode in speedups))
    benchmark.extra_info.update({f"speedup_{mode}": round(value, 2) for mode, value in speedups.items()})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert speedups["rank"] >= 4.0, speedups
