"""LLaVA on the instruction data (the benchmark's llava-ft): collator, projector/LoRA tuning, adapters, fractions."""

from __future__ import annotations

import json

import pytest

from emovit_model.train import TrainConfig, train
from schemas.errors import UsageError
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    return build_tiny("llava", tmp_path_factory.mktemp("zoo_llava") / "llava", seed=0)


def _images(n):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(2)
    return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


def _config(dataset, base, out, **overrides) -> TrainConfig:
    options = {"dataset": str(dataset), "base": str(base), "out": str(out), "lr": 5e-3, "batch_size": 8,
               "warmup_steps": 0, "eval_batch_size": 16, "logging_steps": 1, "progress": False, "max_steps": 3,
               "eval_limit": 8, "save_total_limit": 1}
    options.update(overrides)
    return TrainConfig(**options)


def test_collator_encodes_what_ranking_scores(tiny_llava):
    """The first turn is the scoring text, token for token, and the loss over it is the ranking score."""
    import torch

    from emovit_model.collators.llava import LlavaCollator
    from emovit_model.scoring import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(tiny_llava, device="cpu")
    collator = LlavaCollator(classifier.processor)
    image = _images(1)[0]
    row = {"image": image, "conversations": [{"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
                                             {"from": "gpt", "value": categorical_answer("awe")}]}
    batch = collator([row])
    reference = classifier.processor(images=[image], text=[f"{classifier.prompt()} {categorical_answer('awe')}</s>"],
                                     return_tensors="pt")
    assert torch.equal(batch["input_ids"], reference["input_ids"])
    assert (batch["input_ids"] == collator.image_token_id).sum() == collator.image_tokens == 16
    targets = [t for t in batch["labels"][0].tolist() if t != -100]
    assert targets == classifier.scorer.answer_ids(classifier.prompt(), (categorical_answer("awe"),))[0]
    assert classifier.processor.tokenizer.decode(targets).strip() == "Predict emotion: awe</s>"
    with torch.no_grad():
        loss = classifier.model(**batch).loss.item()
    assert classifier.score([image])[0]["awe"] == pytest.approx(-loss * len(targets), rel=1e-4, abs=1e-4)


def test_every_answer_of_a_conversation_is_a_target(tiny_llava):
    from transformers import AutoProcessor

    from emovit_model.collators.llava import LlavaCollator

    processor = AutoProcessor.from_pretrained(tiny_llava)
    collator = LlavaCollator(processor)
    row = {"image": _images(1)[0], "conversations": [
        {"from": "human", "value": with_image_token("What is it?")}, {"from": "gpt", "value": "A lake."},
        {"from": "human", "value": "Why calm?"}, {"from": "gpt", "value": "Still water."}]}
    batch = collator([row, {**row, "conversations": row["conversations"][:2]}])
    decode = processor.tokenizer.decode
    assert decode([t for t in batch["labels"][0].tolist() if t != -100]).strip() == "A lake.</s> Still water.</s>"
    assert decode([t for t in batch["labels"][1].tolist() if t != -100]).strip() == "A lake.</s>"
    layout = "USER: " + "<image>" * 16 + "\nWhat is it? ASSISTANT: A lake.</s>USER: Why calm? ASSISTANT: Still water.</s>"
    assert batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist() == processor.tokenizer(layout)["input_ids"]
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()  # right-padded


@pytest.mark.parametrize("tuning", ["lora", "projector"])
def test_llava_trains_only_its_adapter_and_reloads_from_it(tuning, small_dataset, tiny_llava, tmp_path):
    import torch
    from transformers import LlavaForConditionalGeneration

    from emovit_model.model import load_model
    from emovit_model.scoring import EmotionClassifier

    base = {n: p.detach().clone() for n, p in LlavaForConditionalGeneration.from_pretrained(tiny_llava).named_parameters()}
    result = train(_config(small_dataset, tiny_llava, tmp_path / "run", tuning=tuning))
    trainable = {n for n, p in result.model.named_parameters() if p.requires_grad}
    assert trainable and all("multi_modal_projector" in n or ".lora_" in n for n in trainable)
    assert any(".lora_" in n for n in trainable) == (tuning == "lora")
    for name, param in result.model.named_parameters():
        if not param.requires_grad:
            assert torch.equal(param.detach(), base[name.replace(".base_layer", "")]), f"frozen {name} changed"
    moved = [n for n, p in result.model.named_parameters()
             if "multi_modal_projector" in n and not torch.equal(p.detach(), base[n])]
    assert moved, "the projector did not train"
    config = json.loads((result.adapter / "adapter_config.json").read_text())
    assert config["model_type"] == "llava" and config["tuning"] == tuning
    assert set(config["tensors"]) == trainable
    if tuning == "lora":
        assert config["lora"] == {"r": 8, "alpha": 16, "dropout": 0.05, "targets": ["q_proj", "k_proj", "v_proj", "o_proj"]}
        assert all(".language_model." in n for n in trainable if ".lora_" in n)  # never the vision tower
    else:
        assert "lora" not in config
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"][-1]["eval_samples"] == 8  # the same ranking evaluation as EmoVIT
    images = _images(3)
    reloaded = EmotionClassifier(*load_model(result.adapter, device="cpu"))
    trained = EmotionClassifier(result.model.eval(), reloaded.processor)
    for a, b in zip(reloaded.score(images), trained.score(images)):
        assert max(abs(a[k] - b[k]) for k in a) < 1e-4


def test_tuning_and_options_that_do_not_fit_the_base_are_refused(small_dataset, tiny_llava, tiny_instructblip, tmp_path):
    from emovit_model.zoo import build_tiny

    with pytest.raises(UsageError, match="trains with tuning qformer, not 'projector'"):
        train(_config(small_dataset, tiny_instructblip, tmp_path / "a", tuning="projector"))
    with pytest.raises(UsageError, match="--merge apply to EmoVIT"):
        train(_config(small_dataset, tiny_llava, tmp_path / "b", merge=True))
    blip2 = build_tiny("blip2", tmp_path / "blip2")
    with pytest.raises(UsageError, match="training supports InstructBLIP \\(EmoVIT\\) and LLaVA bases, not 'blip-2'"):
        train(_config(small_dataset, blip2, tmp_path / "c"))
    with pytest.raises(UsageError, match="train_fraction must be in"):
        _config(small_dataset, tiny_llava, tmp_path / "d", train_fraction=0)


def test_cli_trains_llava_with_flags(small_dataset, tiny_llava, tmp_path):
    from builder.cli import main

    out = tmp_path / "cli"
    assert main(["train", "--dataset", str(small_dataset), "--base", str(tiny_llava), "--out", str(out),
                 "--max-steps", "1", "--batch-size", "4", "--tuning", "lora", "--lora-r", "4", "--lora-alpha", "8",
                 "--lora-targets", "q_proj,v_proj", "--train-fraction", "0.5", "--eval-limit", "4", "--quiet"]) == 0
    saved = json.loads((out / "run_config.json").read_text())
    assert saved["config"]["lora_targets"] == ["q_proj", "v_proj"] and saved["config"]["train_fraction"] == 0.5
    assert saved["rows"]["train"] == 16  # half of the 4 training images per emotion
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["lora"]["r"] == 4 and not any("k_proj" in n for n in adapter["tensors"])


def test_image_fractions_are_stratified_seeded_and_nested(tmp_path):
    import datasets

    from emovit_model.train.data import image_fraction
    from schemas.vocab import EMOTIONS

    rows = [{"id": f"{e}_{i}-{k}", "image_id": f"{e}_{i}", "emotion": e}
            for e in EMOTIONS for i in range(20) for k in ("categorical", "reasoning")]
    features = datasets.Features({"id": datasets.Value("string"), "image_id": datasets.Value("string"),
                                  "emotion": datasets.ClassLabel(names=list(EMOTIONS))})
    split = datasets.Dataset.from_list(rows, features=features)

    def images(fraction, seed=0):
        chosen = image_fraction(split, fraction, seed)
        return chosen, set(chosen["image_id"])

    small, small_ids = images(0.25)
    _, large_ids = images(0.5)
    assert len(small_ids) == 8 * 5 and len(large_ids) == 8 * 10
    assert len(small) == 2 * len(small_ids)  # every row of a chosen image is kept
    assert small_ids <= large_ids  # nested
    per_emotion = {e: sum(i.startswith(e) for i in small_ids) for e in EMOTIONS}
    assert set(per_emotion.values()) == {5}
    assert images(0.25)[1] == small_ids and images(0.25, seed=1)[1] != small_ids
    assert len(images(0.01)[1]) == 8  # at least one image per emotion
    assert list(small["id"]) == [r["id"] for r in rows if r["image_id"] in small_ids]  # split order kept
