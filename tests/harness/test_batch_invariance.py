"""Results must not drift with the batch size: for every adapter with a tiny zoo model (the chat-template ``vlm``
ones included, whose images of different sizes give different numbers of image tokens), batch 1 and batch 8
give identical greedy answers and ranking argmax, and scores within 1e-4. (API models send one request per
image: nothing to batch.)"""

from __future__ import annotations

import pytest

from benchmarks.adapters import ADAPTERS
from schemas.protocol import CATEGORICAL_INSTRUCTION

QUESTIONS = [CATEGORICAL_INSTRUCTION, "How does this picture make you feel, and why?",
             "Which emotion fits?", "Describe the mood of the scene in a few words, then name the emotion."]


def _images(n: int):
    import numpy as np

    from builder.sources.synth import render_image
    from schemas.vocab import EMOTIONS

    rng = np.random.default_rng(11)
    sizes = [(32, 32), (32, 64), (64, 32), (48, 48)]  # any-resolution models tile these differently
    return [render_image(EMOTIONS[i % len(EMOTIONS)], rng, 64).resize(sizes[i % len(sizes)]) for i in range(n)]


def _reference(name: str, zoo, trained) -> str:
    if name in trained:
        return str(trained[name])
    return str(zoo[ADAPTERS.load(name).zoo_kind])


@pytest.mark.parametrize("name", [name for name in ADAPTERS if ADAPTERS.load(name).zoo_kind])
def test_batch_1_and_8_agree(name, zoo, trained):
    adapter = ADAPTERS.load(name)
    classifier = adapter.load(_reference(name, zoo, trained), device="cpu", dtype="float32")
    images = _images(8)
    one, eight = classifier.with_options(batch_size=1), classifier.with_options(batch_size=8)

    single, batched = one.score(images), eight.score(images)
    assert [max(s, key=s.get) for s in single] == [max(s, key=s.get) for s in batched]
    worst = max(abs(a[k] - b[k]) for a, b in zip(single, batched) for k in a)
    assert worst < 1e-4, worst

    asked = [QUESTIONS[i % len(QUESTIONS)] for i in range(8)]  # prompts of different lengths: left padding
    single = one.generate(images, instructions=asked, max_new_tokens=8)
    batched = eight.generate(images, instructions=asked, max_new_tokens=8)
    assert single == batched
    assert len(single) == 8


def test_ranking_with_per_image_instructions_equals_one_instruction_at_a_time(zoo):
    """Mixing questions inside a batch changes nothing: each image is scored as if asked alone."""
    classifier = ADAPTERS.load("instructblip").load(str(zoo["instructblip"]), device="cpu", dtype="float32")
    images = _images(4)
    asked = [QUESTIONS[i] for i in range(4)]
    mixed = classifier.with_options(batch_size=4).score(images, asked)
    for image, question, scores in zip(images, asked, mixed):
        alone = classifier.with_options(batch_size=1, instruction=question).score([image])[0]
        assert max(abs(alone[k] - scores[k]) for k in alone) < 1e-4
