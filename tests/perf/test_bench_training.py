"""Training throughput of the tiny EmoVIT (InstructBLIP zoo model) on CPU.

Run with::

    .venv/bin/python -m pytest tests/perf/test_bench_training.py --benchmark-enable -q

Each round runs ``emovit_model.train.train`` for a fixed number of optimiser steps on an in-memory synthetic
categorical dataset (the real Trainer, collator, freeze policy and checkpointing). ``extra_info`` carries the
Trainer's own steps/s and samples/s (model loading excluded) for the last round.
"""

from __future__ import annotations

import pytest

STEPS = 20
BATCH = 16


def _categorical_dataset(out, per_class: int = 8):
    """A categorical DatasetDict rendered in memory with the synthetic EmoSet painter, saved to ``out``."""
    import io

    import datasets
    import numpy as np

    from builder.sources.synth import render_image
    from schemas.features import instruction_features
    from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token
    from schemas.vocab import EMOTIONS

    rows = []
    rng = np.random.default_rng(0)
    for emotion in EMOTIONS:
        for i in range(per_class):
            buffer = io.BytesIO()
            render_image(emotion, rng, 32).save(buffer, format="PNG")
            rows.append({
                "id": f"{emotion}_{i:05d}-categorical", "image_id": f"{emotion}_{i:05d}",
                "image": {"bytes": buffer.getvalue(), "path": None}, "emotion": emotion,
                "attributes": {"brightness": None, "colorfulness": None, "scene": None, "objects": [],
                               "facial_expression": None, "human_action": None},
                "caption": "", "kind": "categorical",
                "conversations": [{"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
                                  {"from": "gpt", "value": categorical_answer(emotion)}],
                "generator": {"backend": "categorical", "model": None, "prompt_version": None,
                              "temperature": None, "seed": None},
            })
    features = instruction_features()
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows, features=features)}).save_to_disk(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_run_inputs(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    root = tmp_path_factory.mktemp("bench_training")
    return build_tiny("instructblip", root / "tiny"), _categorical_dataset(root / "dataset"), root


def test_tiny_emovit_training_throughput(benchmark, tiny_run_inputs):
    from emovit_model.train import TrainConfig, train

    base, dataset, root = tiny_run_inputs
    runs = []

    def run_once():
        config = TrainConfig(dataset=str(dataset), base=str(base), out=str(root / f"run{len(runs)}"),
                             max_steps=STEPS, batch_size=BATCH, lr=1e-3, warmup_steps=0, logging_steps=STEPS,
                             save_total_limit=1, progress=False)
        runs.append(train(config))

    benchmark.pedantic(run_once, rounds=3, iterations=1, warmup_rounds=0)
    stats = runs[-1].metrics["train"]
    assert runs[-1].global_step == STEPS
    benchmark.extra_info.update({
        "model": "tiny InstructBLIP (zoo defaults: 64-dim, 2 layers, 32 query tokens, 32 px)",
        "device": "cpu",
        "steps": STEPS,
        "batch_size": BATCH,
        "train_steps_per_second": round(stats["train_steps_per_second"], 2),
        "train_samples_per_second": round(stats["train_samples_per_second"], 1),
        "wall_steps_per_second": round(STEPS / benchmark.stats.stats.mean, 2),
        "wall_samples_per_second": round(STEPS * BATCH / benchmark.stats.stats.mean, 1),
    })
    assert stats["train_steps_per_second"] > 0
    print(f"\ntiny EmoVIT training on CPU: {stats['train_steps_per_second']:.1f} steps/s, "
          f"{stats['train_samples_per_second']:.0f} samples/s (batch {BATCH}; Trainer's own timing)")
