"""Answer parsing never guesses: exact ``Predict emotion: <label>``, one documented fallback, else failure."""

from __future__ import annotations

import random
import string

import pytest

from schemas.protocol import ALPHABETICAL_EMOTIONS, ParsedAnswer, parse_answer, parse_emotion


@pytest.mark.parametrize("text, label", [
    ("Predict emotion: awe", "awe"),
    ("  predict emotion:   Sadness.  ", "sadness"),
    ("PREDICT EMOTION: fear!", "fear"),
    ("Predict emotion:contentment", "contentment"),
])
def test_exact_answers(text, label):
    assert parse_answer(text) == ParsedAnswer(label, "exact")


@pytest.mark.parametrize("text, label", [
    ("It feels like contentment to me", "contentment"),
    ("Predict emotion: awe Predict emotion: awe", "awe"),      # repeated, but one label
    ("The picture is most likely to evoke sadness. That is why it evokes SADNESS.", "sadness"),
    ("Predict emotion: anger-filled", "anger"),                # not exact, one label word
])
def test_single_label_fallback(text, label):
    assert parse_answer(text) == ParsedAnswer(label, "single_label")


@pytest.mark.parametrize("text", [
    "",
    "I am not sure.",
    "Predict emotion: happiness",                  # not a candidate
    "Predict emotion: fear, not anger",            # two labels: ambiguous, not "the first one"
    "anger or disgust, hard to say",
    "awesome sunset with fearless climbers",       # label words only inside longer words
    "Predict emotion:",
    "amusement awe contentment excitement anger disgust fear sadness",
])
def test_failures_have_no_label(text):
    assert parse_answer(text) == ParsedAnswer(None, "failure")
    assert parse_emotion(text) is None


def test_never_a_default_label_on_random_text():
    """Random text without label words always fails; with exactly one inserted label word it is that label."""
    rng = random.Random(7)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 9))) for _ in range(400)]
    words = [w for w in words if w not in ALPHABETICAL_EMOTIONS]
    for trial in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        assert parse_answer(text).label is None, text
        label = rng.choice(ALPHABETICAL_EMOTIONS)
        inserted = f"{text} {label} {text}"
        assert parse_answer(inserted) == ParsedAnswer(label, "single_label"), inserted


def test_other_label_sets_and_prefix_labels():
    labels = ("joy", "joyful calm", "surprise")
    assert parse_answer("Predict emotion: joyful calm", labels) == ParsedAnswer("joyful calm", "exact")
    assert parse_answer("so much joy", labels) == ParsedAnswer("joy", "single_label")
    assert parse_answer("Predict emotion: awe", labels) == ParsedAnswer(None, "failure")


def test_generated_answers_are_parsed_by_the_same_rule(zoo):
    """Untrained tiny models generate junk: every label the classifier returns is exactly the parser's."""
    import numpy as np
    from PIL import Image

    from emovit_model.scoring import EmotionClassifier

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(4)]
    for kind in ("instructblip", "llava"):
        classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu", batch_size=4)
        answers = classifier.generate(images, max_new_tokens=6)
        assert len(answers) == 4
        assert all(a.label == parse_answer(a.text).label for a in answers)
