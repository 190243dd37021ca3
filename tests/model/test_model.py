"""Loading and EmoVIT's freeze policy."""

from __future__ import annotations

import math

import pytest

from emovit_model.model import (
    is_trainable_name,
    load_emovit,
    load_model,
    parameter_rows,
    parameter_table,
    resolve_device,
    resolve_dtype,
)
from schemas.errors import UsageError


def test_freeze_policy_trains_only_qformer_queries_projection_and_vision_layernorm(tiny_instructblip, capsys):
    model, _ = load_emovit(tiny_instructblip, device="cpu")
    table = capsys.readouterr().out
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert "query_tokens" in trainable
    assert any(n.startswith("qformer.encoder.") for n in trainable)
    assert {"language_projection.weight", "language_projection.bias"} <= trainable
    assert {"vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias"} <= trainable
    assert all(n.startswith(("qformer.", "query_tokens", "language_projection.", "vision_model.post_layernorm."))
               for n in trainable)
    assert all(n.startswith(("vision_model.", "language_model.")) for n in frozen)
    assert any(n.startswith("language_model.") for n in frozen)
    assert any(n.startswith("vision_model.encoder.") for n in frozen)
    # the printed table names every module with its counts
    for module in ("qformer", "query_tokens", "language_projection", "language_model", "vision_model", "total"):
        assert module in table
    rows = {r.module: r for r in parameter_rows(model)}
    assert rows["language_model"].trainable == 0 and rows["language_model"].frozen > 0
    assert rows["qformer"].frozen == 0
    assert sum(r.trainable for r in rows.values()) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_vision_layernorm_can_stay_frozen(tiny_instructblip):
    model, _ = load_emovit(tiny_instructblip, device="cpu", train_vision_layernorm=False, verbose=False)
    assert not model.vision_model.post_layernorm.weight.requires_grad
    assert model.qformer.embeddings.layernorm.weight.requires_grad
    assert not is_trainable_name("vision_model.post_layernorm.weight", train_vision_layernorm=False)


def test_cpu_dtypes_are_fp32_and_query_tokens_stay_fp32(tiny_instructblip):
    import torch

    cpu = resolve_device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(UsageError):
        resolve_dtype("float13", cpu)
    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    # loaded in bf16 (as on a GPU): frozen towers bf16, trainable master weights fp32, query tokens fp32
    half, _ = load_emovit(tiny_instructblip, device="cpu", dtype="bfloat16", verbose=False)
    assert half.query_tokens.dtype == torch.float32
    assert half.language_model.lm_head.weight.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in half.parameters() if p.requires_grad)
    assert "bfloat16" in parameter_table(half)


def test_load_model_is_for_inference(tiny_instructblip):
    model, processor = load_model(tiny_instructblip, device="cpu")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert type(processor).__name__ == "InstructBlipProcessor"


def test_freeze_policy_refuses_other_architectures(tmp_path):
    from emovit_model.zoo import build_tiny

    path = build_tiny("llava", tmp_path / "llava")
    with pytest.raises(UsageError, match="InstructBLIP"):
        load_emovit(path, device="cpu", verbose=False)
    with pytest.raises(UsageError, match="nowhere: model path does not exist"):
        load_model(tmp_path / "nowhere", device="cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="cannot load a model config from"):
        load_model(empty, device="cpu")


def test_mixed_precision_model_trains_and_scores_under_autocast(tiny_instructblip):
    """The GPU layout (bf16 towers, fp32 trainable parts) exercised on CPU with bf16 autocast."""
    import torch
    from PIL import Image

    from emovit_model.collators.instructblip import EmoVITCollator
    from emovit_model.scoring import EmotionClassifier, autocast_for
    from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token

    model, processor = load_emovit(tiny_instructblip, device="cpu", dtype="bfloat16", verbose=False)
    image = Image.new("RGB", (32, 32), (40, 160, 90))
    row = {"image": image, "conversations": [{"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
                                             {"from": "gpt", "value": categorical_answer("awe")}]}
    batch = EmoVITCollator(processor)([row, row])
    model.train()
    with autocast_for(model):
        loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert model.query_tokens.grad is not None and model.query_tokens.grad.dtype == torch.float32
    assert all(p.grad is None for p in model.language_model.parameters())
    scores = EmotionClassifier(model, processor).score([image])[0]
    assert len(scores) == 8 and all(math.isfinite(v) for v in scores.values())
