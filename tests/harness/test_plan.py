"""``emovit bench plan``: parameter counts and weight memory from configs alone equal the loaded models'; the KV
cache and the largest batch follow the formula, computed here by hand."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from emovit_model.zoo import KINDS


def _config_only(zoo, kind, tmp_path):
    """A folder with nothing but the checkpoint's config.json (and the tokenizer): no weights to read."""
    folder = tmp_path / f"{kind}-config-only"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(zoo[kind] / name, folder / name)
    return folder


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_parameters_and_weight_bytes_equal_the_loaded_models(zoo, kind, dtype, tmp_path):
    import torch

    from benchmarks.run.plan import meta_model, weight_bytes
    from emovit_model.model import load_model, read_model_config

    folder = _config_only(zoo, kind, tmp_path)
    assert not list(folder.glob("*.safetensors"))
    count, size = weight_bytes(meta_model(read_model_config(folder)), getattr(torch, dtype))
    model, _ = load_model(zoo[kind], device="cpu", dtype=dtype)
    assert count == sum(p.numel() for p in model.parameters())
    assert size == sum(p.numel() * p.element_size() for p in model.parameters())


def test_plan_of_a_run_config(zoo, tmp_path, capsys):
    from benchmarks.run.plan import GIB, plan_config
    from benchmarks.spec.config import load_config
    from builder.cli import main

    document = {"name": "p", "out": str(tmp_path / "out"), "tasks": ["emoset8"], "batch_size": 4, "dtype": "auto",
                "models": [{"name": "llava", "adapter": "llava", "path": str(_config_only(zoo, "llava", tmp_path))},
                           {"name": "ib", "adapter": "instructblip", "path": str(zoo["instructblip"])},
                           {"name": "clip", "adapter": "clip", "path": str(zoo["clip"])},
                           {"name": "gpt", "adapter": "openai", "path": "gpt-4o-mini"}]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(document))
    llava, instructblip, clip, api = plan_config(load_config(path))
    spec = json.loads((zoo["llava"] / "zoo_spec.json").read_text())
    # bf16 keys and values: 2 x layers x kv heads x head size x 2 bytes per token
    head = spec["hidden_size"] // spec["num_heads"]
    assert llava.kv_bytes_per_token == 2 * spec["num_layers"] * spec["num_heads"] * head * 2
    assert llava.dtype == "bfloat16" and llava.batch_size == 4
    from transformers import AutoTokenizer

    from schemas.protocol import CATEGORICAL_INSTRUCTION

    instruction = len(AutoTokenizer.from_pretrained(zoo["llava"])(CATEGORICAL_INSTRUCTION)["input_ids"])
    assert llava.prompt_tokens == 16 + instruction + 16  # 16 image tokens (4 x 4 patches), layout
    assert (llava.answer_tokens, llava.cache_tokens, llava.mode) == (16, llava.prompt_tokens + 16, "rank")
    assert instructblip.prompt_tokens - spec["num_query_tokens"] == \
        len(AutoTokenizer.from_pretrained(zoo["instructblip"])(CATEGORICAL_INSTRUCTION)["input_ids"]) + 16
    assert llava.kv_bytes == llava.kv_bytes_per_token * (llava.prompt_tokens + 16) * 4
    budget = llava.weight_bytes + 10 * llava.kv_bytes_per_token * (llava.prompt_tokens + 16) + 1
    assert llava.largest_batch(budget) == 10 and llava.largest_batch(llava.weight_bytes - 1) == 0
    assert clip.kv_bytes_per_token == 0 and not api.local

    assert main(["bench", "plan", "--config", str(path), "--gpu-memory", str(llava.total_bytes / GIB * 1.001)]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("llava "))
    assert " yes " in row and row.split()[-1] == f"{llava.largest_batch(llava.total_bytes * 1.001):,}"
    assert "no GPU" in next(line for line in lines if line.startswith("gpt "))


def test_image_tokens_of_real_families():
    """The image-token counts a plan uses, from each family's config (LLaVA-NeXT worst case by hand: the 336-px
    base view, 24 x 24, plus the largest grid 672 x 672 = 48 x 48 patches with a newline per row)."""
    from transformers import (
        InstructBlipConfig,
        LlavaConfig,
        LlavaNextConfig,
        Qwen2_5_VLConfig,
    )

    from benchmarks.run.plan import image_tokens

    assert image_tokens(InstructBlipConfig(num_query_tokens=32)) == 32
    clip_l = {"model_type": "clip_vision_model", "image_size": 336, "patch_size": 14}
    assert image_tokens(LlavaConfig(vision_config=clip_l, image_seq_length=576)) == 576
    pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
    assert image_tokens(LlavaNextConfig(vision_config=clip_l, image_grid_pinpoints=pinpoints)) == 576 + 48 * 48 + 48
    assert image_tokens(Qwen2_5_VLConfig(), image_size=512) == 19 * 19  # 28-px merged patches, rounded up
