"""Checkpoint I/O without pickle: adapter round trip, merge, LAVIS import."""

from __future__ import annotations

import json
import os

import pytest

from emovit_model.checkpoint import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    CheckpointError,
    load_adapter,
    merge_adapter,
    save_adapter,
)
from emovit_model.lavis import convert_lavis_checkpoint, import_lavis
from emovit_model.model import load_emovit, load_model


def _perturb(model, seed=0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.05)


def test_adapter_round_trip_is_small_and_exact(tiny_instructblip, tmp_path):
    import torch
    from safetensors import safe_open

    model, processor = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    _perturb(model)
    out = save_adapter(model, tmp_path / "adapter", processor=processor)
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    with safe_open(str(out / ADAPTER_WEIGHTS), "pt") as handle:
        assert set(handle.keys()) == set(trainable)
    config = json.loads((out / ADAPTER_CONFIG).read_text())
    # the base is named relative to the adapter: no absolute local path in a published file
    assert config["base_model"] == os.path.relpath(tiny_instructblip.resolve(), out.resolve())
    assert not os.path.isabs(config["base_model"]) and str(tmp_path) not in (out / ADAPTER_CONFIG).read_text()
    assert config["num_parameters"] == sum(t.numel() for t in trainable.values())
    base_bytes = (tiny_instructblip / "model.safetensors").stat().st_size
    assert (out / ADAPTER_WEIGHTS).stat().st_size < base_bytes
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt*"))

    fresh, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    assert not torch.equal(fresh.query_tokens, trainable["query_tokens"])
    loaded = load_adapter(fresh, out)
    assert set(loaded) == set(trainable)
    for name, param in fresh.named_parameters():
        if name in trainable:
            assert torch.equal(param, trainable[name]), name
    # an adapter directory loads onto its base by itself
    again, again_processor = load_model(out, device="cpu")
    assert torch.equal(again.query_tokens, trainable["query_tokens"])
    assert type(again_processor).__name__ == "InstructBlipProcessor"


def test_merge_writes_a_plain_transformers_model(tiny_instructblip, tmp_path):
    import torch
    from transformers import AutoProcessor, InstructBlipForConditionalGeneration

    model, processor = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    _perturb(model, seed=1)
    adapter = save_adapter(model, tmp_path / "adapter", processor=processor)
    merged = merge_adapter(adapter, tmp_path / "merged")
    assert (merged / "model.safetensors").is_file()
    plain = InstructBlipForConditionalGeneration.from_pretrained(merged)
    AutoProcessor.from_pretrained(merged)
    reference = dict(model.named_parameters())
    for name, param in plain.named_parameters():
        assert torch.equal(param, reference[name]), name


def test_adapter_errors_are_clear(tiny_instructblip, tmp_path):
    import torch
    from safetensors.torch import save_file

    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    with pytest.raises(CheckpointError, match="not an EmoVIT adapter"):
        load_adapter(model, tmp_path)
    out = save_adapter(model, tmp_path / "adapter")
    save_file({"qformer.not_a_weight": torch.zeros(2)}, str(out / ADAPTER_WEIGHTS))
    with pytest.raises(CheckpointError, match="qformer.not_a_weight"):
        load_adapter(model, out)
    save_file({"query_tokens": torch.zeros(1, 3, 3)}, str(out / ADAPTER_WEIGHTS))
    with pytest.raises(CheckpointError, match="shape mismatch: query_tokens"):
        load_adapter(model, out)


def _lavis_state(model) -> dict:
    """A synthetic LAVIS InstructBLIP (Vicuna) state dict with the original key names, built from ``model``."""
    import torch

    state = {"query_tokens": torch.randn_like(model.query_tokens)}
    for name, param in model.named_parameters():
        if name.startswith("qformer."):
            key = "Qformer.bert." + name[len("qformer."):]
            key = key.replace("embeddings.layernorm.", "embeddings.LayerNorm.")
            key = key.replace(".attention.attention.", ".attention.self.")
            key = key.replace(".crossattention.attention.", ".crossattention.self.")
            state[key] = torch.randn_like(param)
    state["llm_proj.weight"] = torch.randn_like(model.language_projection.weight)
    state["llm_proj.bias"] = torch.randn_like(model.language_projection.bias)
    state["ln_vision.weight"] = torch.randn_like(model.vision_model.post_layernorm.weight)
    state["ln_vision.bias"] = torch.randn_like(model.vision_model.post_layernorm.bias)
    state["Qformer.bert.embeddings.position_ids"] = torch.arange(8).unsqueeze(0)
    return state


def test_lavis_import_maps_the_original_names(tiny_instructblip, tmp_path):
    import torch

    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    state = _lavis_state(model)
    assert any(".attention.self.query." in k for k in state) and "Qformer.bert.embeddings.LayerNorm.weight" in state
    path = tmp_path / "emovit.pth"
    torch.save({"model": state, "epoch": 3, "config": {"lr": 1e-5}}, path)  # LAVIS wraps weights in "model"
    report = import_lavis(model, path)
    assert report.not_covered == []  # every trainable tensor came from the checkpoint
    assert "Qformer.bert.embeddings.position_ids" in report.ignored
    assert torch.equal(model.query_tokens, state["query_tokens"])
    assert torch.equal(model.language_projection.weight, state["llm_proj.weight"])
    assert torch.equal(model.vision_model.post_layernorm.bias, state["ln_vision.bias"])
    assert torch.equal(model.qformer.encoder.layer[0].crossattention.attention.value.weight,
                       state["Qformer.bert.encoder.layer.0.crossattention.self.value.weight"])
    assert torch.equal(model.qformer.embeddings.layernorm.weight, state["Qformer.bert.embeddings.LayerNorm.weight"])
    adapter = convert_lavis_checkpoint(path, tiny_instructblip, tmp_path / "converted")
    converted, _ = load_model(adapter, device="cpu")
    assert torch.equal(converted.query_tokens, state["query_tokens"])


def test_cli_imports_a_lavis_checkpoint_into_a_merged_model(tiny_instructblip, tmp_path):
    import torch
    from transformers import InstructBlipForConditionalGeneration

    from builder.cli import main

    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    state = _lavis_state(model)
    torch.save({"model": state}, tmp_path / "emovit.pth")
    out = tmp_path / "run"
    assert main(["train", "--base", str(tiny_instructblip), "--out", str(out), "--merge-only",
                 "--lavis-checkpoint", str(tmp_path / "emovit.pth")]) == 0
    merged = InstructBlipForConditionalGeneration.from_pretrained(out / "merged")
    assert torch.equal(merged.language_projection.weight, state["llm_proj.weight"])
    assert json.loads((out / "adapter" / ADAPTER_CONFIG).read_text())["imported_from"].endswith("emovit.pth")
    state["unknown.key"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    assert main(["train", "--base", str(tiny_instructblip), "--out", str(tmp_path / "bad"), "--merge-only",
                 "--lavis-checkpoint", str(tmp_path / "bad.pth")]) == 2


def test_lavis_import_maps_vision_and_llm_of_full_checkpoints(tiny_instructblip):
    import torch

    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    layer = model.vision_model.encoder.layers[0]
    width = layer.self_attn.qkv.weight.shape[1]
    state = {
        "visual_encoder.blocks.0.attn.qkv.weight": torch.randn_like(layer.self_attn.qkv.weight),
        "visual_encoder.blocks.0.attn.q_bias": torch.randn(width),
        "visual_encoder.blocks.0.attn.v_bias": torch.randn(width),
        "visual_encoder.blocks.0.norm1.weight": torch.randn_like(layer.layer_norm1.weight),
        "visual_encoder.pos_embed": torch.randn_like(model.vision_model.embeddings.position_embedding),
        "llm_model.lm_head.weight": torch.randn_like(model.language_model.lm_head.weight),
        "llm_model.model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(4),
    }
    report = import_lavis(model, state)
    bias = layer.self_attn.qkv.bias
    assert torch.equal(bias[:width], state["visual_encoder.blocks.0.attn.q_bias"])
    assert torch.equal(bias[width:2 * width], torch.zeros(width))
    assert torch.equal(bias[2 * width:], state["visual_encoder.blocks.0.attn.v_bias"])
    assert torch.equal(model.language_model.lm_head.weight, state["llm_model.lm_head.weight"])
    assert "llm_model.model.layers.0.self_attn.rotary_emb.inv_freq" in report.ignored
    assert "query_tokens" in report.not_covered


def test_lavis_import_lists_unmapped_keys(tiny_instructblip, tmp_path):
    import torch

    model, _ = load_emovit(tiny_instructblip, device="cpu", verbose=False)
    before = model.query_tokens.detach().clone()
    state = _lavis_state(model)
    state["prompt_adapter.weight"] = torch.zeros(3)
    state["Qformer.bert.encoder.layer.99.output.dense.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as error:
        import_lavis(model, {"model": state})
    message = str(error.value)
    assert "2 LAVIS key(s)" in message
    assert "prompt_adapter.weight" in message and "Qformer.bert.encoder.layer.99.output.dense.weight" in message
    assert torch.equal(model.query_tokens, before)  # nothing was half-loaded
    report = import_lavis(model, state, strict=False)
    assert torch.equal(model.query_tokens, state["query_tokens"])
    assert "prompt_adapter.weight" not in report.mapped
    bad = tmp_path / "bad.pth"
    torch.save({"model": {"query_tokens": torch.zeros(1)}, "fn": print}, bad)  # not weights-only loadable
    with pytest.raises(CheckpointError, match="weights_only"):
        import_lavis(model, bad)


def test_checkpoint_identity_lives_beside_the_checkpoint_code(tmp_path, monkeypatch):
    """What a run records as its model: a Hub id as such; a folder by its files (content below the limit, name and
    size above), an adapter with its base's identity too. Computed here by hand."""
    import hashlib

    from emovit_model import checkpoint

    assert checkpoint.checkpoint_identity("org/model-7b") == "hub:org/model-7b"
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    (base / "config.json").write_bytes(b'{"a": 1}')
    (base / "sub" / "weights.bin").write_bytes(b"x" * 40)
    monkeypatch.setattr(checkpoint, "HASH_CONTENT_BELOW", 32)  # weights.bin counts by name and size only
    by_hand = hashlib.sha256()
    by_hand.update(b"config.json\x008\x00" + hashlib.sha256(b'{"a": 1}').digest())
    by_hand.update(b"sub/weights.bin\x0040\x00")
    assert checkpoint.checkpoint_identity(str(base)) == by_hand.hexdigest()[:16]
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    config = b'{"base_model": "../base"}'
    (adapter / ADAPTER_CONFIG).write_bytes(config)
    with_base = hashlib.sha256(f"{ADAPTER_CONFIG}\0{len(config)}\0".encode() + hashlib.sha256(config).digest())
    with_base.update(by_hand.hexdigest()[:16].encode())
    assert checkpoint.checkpoint_identity(str(adapter)) == with_base.hexdigest()[:16]
