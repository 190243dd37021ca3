"""Fixtures of the harness tests: tiny zoo checkpoints, a synthetic build, trained tiny adapters, run configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """Tiny random checkpoints of every zoo kind (seed 0)."""
    from benchmarks.data.fixtures import zoo_checkpoint
    from emovit_model.zoo import KINDS

    root = tmp_path_factory.mktemp("harness_zoo")
    return {kind: zoo_checkpoint(root / kind, kind) for kind in KINDS}


@pytest.fixture(scope="session")
def bench_build(tmp_path_factory) -> Path:
    """A synthetic build with every instruction kind: 4 images per emotion and split (32 test images)."""
    from benchmarks.data.fixtures import synthetic_build

    return synthetic_build(tmp_path_factory.mktemp("harness_data") / "synth", per_class=4, seed=0)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, zoo, bench_build) -> dict[str, Path]:
    """A tiny EmoVIT adapter and a tiny LLaVA LoRA adapter, each trained for a few steps."""
    from emovit_model.train import TrainConfig, train

    root = tmp_path_factory.mktemp("harness_trained")
    common = {"dataset": str(bench_build), "kinds": ("categorical",), "max_steps": 3, "batch_size": 8, "lr": 5e-3,
              "warmup_steps": 0, "eval_limit": 8, "logging_steps": 1, "progress": False, "save_total_limit": 1}
    emovit = train(TrainConfig(base=str(zoo["instructblip"]), out=str(root / "emovit"), **common))
    llava = train(TrainConfig(base=str(zoo["llava"]), out=str(root / "llava-ft"), tuning="lora", **common))
    return {"emovit": emovit.adapter, "llava-ft": llava.adapter}


def _write_config(path: Path, document: dict) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def small_config(tmp_path, zoo, bench_build):
    """A run config of two zero-shot tiny models on emoset8 + emoset2, written to a file; returns a builder."""
    def make(**changes) -> Path:
        document = {
            "name": "test", "out": str(tmp_path / "out"), "data": {"build": str(bench_build)},
            "tasks": ["emoset8", "emoset2"], "mode": "rank", "batch_size": 8, "progress": False,
            "models": [{"name": "instructblip", "adapter": "instructblip", "path": str(zoo["instructblip"])},
                       {"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}],
        }
        document.update(changes)
        return _write_config(tmp_path / "config.yaml", document)

    return make
