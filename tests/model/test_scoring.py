"""Emotion prediction: answer parsing, likelihood ranking (fast path == model loss), generation."""

from __future__ import annotations

import math

import pytest

from emovit_model.scoring import EmotionClassifier, Generation, parse_emotion
from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_INSTRUCTION,
    categorical_answer,
    with_image_token,
)


@pytest.mark.parametrize("text, label", [
    ("Predict emotion: awe", "awe"),
    ("predict emotion: Sadness.", "sadness"),
    ("Predict emotion: fear, not anger", None),  # two labels: never "the first one"
    ("It feels like contentment to me", "contentment"),
    ("anger or disgust, hard to say", None),
    ("Predict emotion: happiness", None),
    ("awesome sunset", None),
    ("", None),
])
def test_parse_emotion(text, label):
    assert parse_emotion(text) == label


def _images(n):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(n)]


def test_instructblip_ranking_equals_the_training_loss(tiny_instructblip):
    """The fast ranking path (image features once, 8 answers) scores exactly what training optimises."""
    import torch

    from emovit_model.collators.instructblip import EmoVITCollator

    classifier = EmotionClassifier.from_pretrained(tiny_instructblip, device="cpu", batch_size=2)
    images = _images(3)
    scores = classifier.score(images)
    assert len(scores) == 3 and all(tuple(s) == ALPHABETICAL_EMOTIONS for s in scores)
    collator = EmoVITCollator(classifier.processor)
    model = classifier.model
    for image_index, label in [(0, "awe"), (2, "sadness")]:
        row = {"image": images[image_index], "conversations": [
            {"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
            {"from": "gpt", "value": categorical_answer(label)}]}
        batch = collator([row])
        with torch.no_grad():
            loss = model(**batch).loss.item()
        tokens = int((batch["labels"] != -100).sum())
        assert scores[image_index][label] == pytest.approx(-loss * tokens, rel=1e-4, abs=1e-4)
    assert classifier.predict(images) == [max(s, key=s.get) for s in scores]
    normalised = EmotionClassifier(model, classifier.processor, length_normalise=True).score(images[:1])[0]
    assert all(math.isfinite(v) for v in normalised.values())


def test_clip_ranks_by_prompt_ensembled_similarity(tmp_path):
    """CLIP scores are logit_scale * cos(image, mean of the normalised prompt embeddings), computed here by hand."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    from emovit_model.scoring import CLIP_PROMPTS
    from emovit_model.zoo import build_tiny

    path = build_tiny("clip", tmp_path / "clip")
    classifier = EmotionClassifier.from_pretrained(path, device="cpu", batch_size=2)
    images = _images(3)
    scores = classifier.score(images)
    model, processor = CLIPModel.from_pretrained(path).eval(), CLIPProcessor.from_pretrained(path)
    with torch.no_grad():
        texts = [p.format(label=label) for label in ALPHABETICAL_EMOTIONS for p in CLIP_PROMPTS]
        tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")
        text = model.get_text_features(**tokens).pooler_output
        text = torch.nn.functional.normalize(text, dim=-1).view(8, len(CLIP_PROMPTS), -1).mean(1)
        text = torch.nn.functional.normalize(text, dim=-1)
        image = model.get_image_features(**processor.image_processor(images, return_tensors="pt")).pooler_output
        expected = model.logit_scale.exp() * torch.nn.functional.normalize(image, dim=-1) @ text.T
    for row, values in zip(scores, expected.tolist()):
        assert list(row.values()) == pytest.approx(values, abs=1e-4)
    answers = classifier.generate(images)  # no decoder: the answer is the best-ranked label
    assert [a.label for a in answers] == classifier.predict(images)
    assert all(a.text == f"Predict emotion: {a.label}" for a in answers)


@pytest.mark.parametrize("kind", ["blip2", "llava"])
def test_other_families_rank_and_generate(tmp_path, kind):
    from emovit_model.zoo import build_tiny

    classifier = EmotionClassifier.from_pretrained(build_tiny(kind, tmp_path / kind), device="cpu")
    assert classifier.prompt().startswith("USER: <image>\n" if kind == "llava" else "Question: ")
    scores = classifier.score(_images(2))
    assert len(scores) == 2 and all(len(s) == 8 for s in scores)
    assert all(math.isfinite(v) and v < 0 for s in scores for v in s.values())
    answers = classifier.generate(_images(2), max_new_tokens=4)
    assert len(answers) == 2 and all(isinstance(a, Generation) for a in answers)
    assert all(a.label is None or a.label in ALPHABETICAL_EMOTIONS for a in answers)


def test_instructblip_generation_returns_only_new_text(tiny_instructblip):
    classifier = EmotionClassifier.from_pretrained(tiny_instructblip, device="cpu")
    answers = classifier.generate(_images(2), max_new_tokens=3)
    assert len(answers) == 2
    for answer in answers:
        assert "Please select" not in answer.text  # the prompt is not echoed back
        assert answer.label == parse_emotion(answer.text)
