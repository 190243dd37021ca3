"""The packaged ``reference`` config (the paper-style comparison with the 2025-2026 families) validates and plans
offline from the config.json copies shipped with the package; ``bench plan`` prices generate mode's answer budget
(per-model ``max_new_tokens``) in KV-cache memory and counts the new families' image tokens."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

#: Parameter counts the model cards publish (billions, two decimals).
PUBLISHED = {"Salesforce/instructblip-vicuna-7b": 7.91, "llava-hf/llava-1.5-7b-hf": 7.06,
             "llava-hf/llava-v1.6-vicuna-7b-hf": 7.06, "Qwen/Qwen2.5-VL-3B-Instruct": 3.75,
             "Qwen/Qwen2.5-VL-7B-Instruct": 8.29, "OpenGVLab/InternVL3-8B-hf": 7.94, "google/gemma-3-4b-it": 4.30}


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_the_reference_config_validates_and_plans_offline(offline, capsys):
    from benchmarks.run.plan import GIB, plan_config
    from benchmarks.spec.config import load_config
    from builder.cli import main

    config = load_config("reference")
    assert [entry["adapter"] for entry in config.models] == [
        "emovit", "instructblip", "llava", "llava-next", "qwen2.5-vl", "qwen2.5-vl", "internvl", "gemma3"]
    assert {"emoset8", "emoset2", "emotion6", "fi8", "webemo7"} <= set(config.tasks) and config.mode == "generate"
    plans = plan_config(config)
    assert {p.reference: round(p.parameters / 1e9, 2) for p in plans} == PUBLISHED
    assert all(p.shipped and p.dtype == "bfloat16" and p.batch_size == 8 for p in plans)
    assert {p.answer_tokens for p in plans} == {16}  # generate mode: the tasks' largest budget (webemo25's 16)

    assert main(["bench", "plan", "--config", "reference", "--gpu-memory", "24"]) == 0
    out = capsys.readouterr().out
    for plan in plans:  # fits 24 GiB exactly when weights + 2 x layers x kv heads x head size x 2 B x tokens x 8 do
        total = plan.weight_bytes + plan.kv_bytes_per_token * (plan.prompt_tokens + plan.answer_tokens) * 8
        row = next(line for line in out.splitlines() if line.startswith(plan.name + " "))
        assert (" yes " in row) == (total <= 24 * GIB), row
    assert " no " in next(line for line in out.splitlines() if line.startswith("llava-next-7b "))
    assert "config.json read from the copies shipped with emovit (no network)" in out


def test_image_tokens_of_the_new_families_by_hand():
    """Qwen3-VL: 16-px patches merged 2 x 2, so 32-px tokens on a 512-px square: 16 x 16. InternVL3: 448-px tiles
    of 14-px patches pixel-shuffled by 0.5 = 256 tokens, 12 tiles and a thumbnail at most, plus <img> and </img>.
    LLaVA-OneVision anyres_max_9: the 27 x 27 base view plus at most 9 of them, a newline per row of 3 tiles and
    one more. Gemma 3: its fixed 256 soft tokens."""
    from transformers import AutoConfig, LlavaOnevisionConfig, Qwen3VLConfig

    from benchmarks.run.plan import SHIPPED_CONFIGS, image_tokens

    assert image_tokens(Qwen3VLConfig(), image_size=512) == 16 * 16
    internvl = AutoConfig.from_pretrained(SHIPPED_CONFIGS / "OpenGVLab--InternVL3-8B-hf")
    assert image_tokens(internvl) == 256 * 13 + 2
    siglip = {"model_type": "siglip_vision_model", "image_size": 384, "patch_size": 14}
    onevision = LlavaOnevisionConfig(vision_config=siglip, vision_aspect_ratio="anyres_max_9")
    assert image_tokens(onevision) == 729 + 9 * 729 + 3 * 27 + 1
    assert image_tokens(AutoConfig.from_pretrained(SHIPPED_CONFIGS / "google--gemma-3-4b-it")) == 256


def test_generate_mode_prices_the_answer_budget_in_the_kv_cache(zoo, tmp_path):
    """A thinking model's 4,096-token budget is cache the plan counts: the same model ranked keeps 16 answer
    tokens, generated without a budget of its own the task's 12, with ``max_new_tokens: 4096`` 4,096."""
    from benchmarks.run.plan import plan_config
    from benchmarks.spec.config import load_config

    folder = tmp_path / "qwen3-vl"
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(zoo["qwen3-vl"] / name, folder / name)
    models = [{"name": "ranked", "adapter": "qwen3-vl", "path": str(folder), "max_new_tokens": 4096},
              {"name": "short", "adapter": "qwen3-vl", "path": str(folder), "mode": "generate"},
              {"name": "thinking", "adapter": "qwen3-vl", "path": str(folder), "mode": "generate",
               "max_new_tokens": 4096}]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "out": str(tmp_path / "out"), "tasks": ["emoset8"],
                                    "batch_size": 2, "dtype": "float32", "models": models}))
    ranked, short, thinking = plan_config(load_config(path))
    assert (ranked.answer_tokens, short.answer_tokens, thinking.answer_tokens) == (16, 12, 4096)
    assert (ranked.mode, thinking.mode) == ("rank", "generate")
    spec = json.loads((zoo["qwen3-vl"] / "zoo_spec.json").read_text())
    head = spec["hidden_size"] // spec["num_heads"]
    per_token = 2 * spec["num_layers"] * 2 * head * 4  # keys and values, 2 key/value heads, float32
    assert thinking.kv_bytes_per_token == per_token
    assert thinking.kv_bytes == per_token * (thinking.prompt_tokens + 4096) * 2
    assert thinking.kv_bytes - short.kv_bytes == per_token * (4096 - 12) * 2


def test_the_reference_config_runs_offline_at_tiny_size(tmp_path):
    """Every family of the comparison scores through its adapter on a synthetic build (tiny stand-ins, EmoVIT
    trained for an epoch), answers generated and read by our parser, and lands on one leaderboard."""
    from benchmarks.cli import run_and_rank
    from benchmarks.spec.config import load_config

    config = load_config("reference", ["size=tiny", f"out={tmp_path / 'out'}", "tasks=[emoset8]", "progress=false"])
    _, leaderboard = run_and_rank(config)
    runs = tmp_path / "out" / "runs"
    names = [entry["name"] for entry in config.models]
    assert sorted(p.parent.parent.name for p in runs.glob("*/emoset8/predictions.jsonl")) == sorted(names)
    for name in names:
        rows = [json.loads(line) for line in (runs / name / "emoset8" / "predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 32 and all(row["raw"] is not None and row["scores"] is None for row in rows), name
    assert sorted(row["model"] for row in leaderboard if row["task"] == "emoset8") == sorted(names)
