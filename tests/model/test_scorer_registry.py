"""The scorer registry: a family per checkpoint config, and today's four families scoring exactly as before.

``REFERENCE`` holds what the code before the split into per-family scorers (commit 8d147f2,
``emovit_model/scoring.py`` branching on ``model_type``) gave on fixed inputs, recorded with that code on the
CPU build of torch 2.13: tiny zoo models of the four families (seed 0; the zoo's first byte-level tokenizers,
which ``tokenizer="bytelevel"`` rebuilds bit for bit), the three images of :func:`_images`, the protocol
instruction for images 0 and 2 and :data:`OTHER_QUESTION` for image 1, ``batch_size=2``; ``scores`` are
``score()`` rounded to 5 decimals, ``normalised`` is ``length_normalise=True`` on image 0, ``generate`` is
``generate(max_new_tokens=6)``. The new code must give the same numbers and the same answers.
"""

from __future__ import annotations

import pytest

from emovit_model.families import FAMILIES, Family, family_for, family_name
from schemas.errors import UsageError

OTHER_QUESTION = "Which emotion fits this picture best?"
REFERENCE = {
    "instructblip": {
        "scores": [
            [-38.85244, -42.42935, -37.05157, -39.52686, -41.65584, -37.81251, -38.80255, -42.70771],
            [-35.45999, -41.77187, -37.03551, -39.34333, -38.07784, -37.17665, -35.45860, -38.09895],
            [-38.93204, -42.39906, -37.29119, -39.65213, -41.86397, -37.71460, -38.97116, -42.53741],
        ],
        "normalised": [-7.77049, -8.48587, -7.41032, -7.90537, -8.33117, -7.56250, -7.76051, -8.54154],
        "generate": ["umps gloom\ufffdi tfacial", "yesma colour\u0002 shadow shouts", "togetherhe balloonschenree\ufffd"],
    },
    "blip2": {
        "scores": [
            [-36.68365, -37.77914, -40.00862, -38.27139, -35.70069, -43.68454, -38.73243, -34.75596],
            [-43.88033, -39.61388, -44.78848, -40.74585, -44.42238, -44.97066, -42.18188, -38.81462],
            [-36.50167, -37.65659, -39.89354, -38.15788, -35.63432, -43.57014, -38.64462, -34.64185],
        ],
        "normalised": [-7.33673, -7.55583, -8.00173, -7.65428, -7.14014, -8.73691, -7.74649, -6.95119],
        "generate": ["Y no watararsest", "SS please drif no crawl", "Y no watararsest"],
    },
    "llava": {
        "scores": [
            [-41.84009, -41.89134, -40.78541, -42.06049, -36.86044, -40.67656, -43.30415, -41.70259],
            [-39.85094, -44.72297, -39.50151, -45.24890, -40.23636, -44.42120, -43.74528, -40.63273],
            [-41.13858, -42.75363, -39.64513, -43.98225, -41.10021, -42.22639, -47.07339, -44.66237],
        ],
        "normalised": [-8.36802, -8.37827, -8.15708, -8.41210, -7.37209, -8.13531, -8.66083, -8.34052],
        "generate": ["\ufffdnessessionithv some", "\ufffdment\ufffd pil crawl", "image\ufffd day options cleasect"],
    },
    "clip": {
        "scores": [
            [-1.84859, -1.92378, -1.76647, -2.22822, -1.72584, -2.33426, -1.91454, -1.74289],
            [0.06748, -0.56325, -0.17695, -0.74998, 0.12813, -0.44359, -0.40089, -0.24110],
            [-1.32036, -1.27917, -1.33196, -1.72999, -1.44291, -1.82000, -1.59050, -1.21241],
        ],
        "normalised": [-1.84859, -1.92378, -1.76647, -2.22822, -1.72584, -2.33426, -1.91454, -1.74289],
        "generate": ["Predict emotion: disgust", "Predict emotion: disgust", "Predict emotion: sadness"],
    },
}
FAMILY = {"instructblip": "instructblip", "blip2": "blip-2", "llava": "vlm", "clip": "clip"}


def _images():
    import numpy as np

    from builder.sources.synth import render_image

    rng = np.random.default_rng(5)
    return [render_image(emotion, rng, 32) for emotion in ("awe", "fear", "amusement")]


@pytest.mark.parametrize("kind", list(REFERENCE))
def test_the_four_families_score_exactly_as_before_the_split(kind, tmp_path):
    from emovit_model.scoring import EmotionClassifier
    from emovit_model.zoo import build_tiny

    path = build_tiny(kind, tmp_path / kind, seed=0, tokenizer="bytelevel")
    classifier = EmotionClassifier.from_pretrained(path, device="cpu", dtype="float32", batch_size=2)
    assert classifier.family == FAMILY[kind]
    images = _images()
    asked = [classifier.instruction, OTHER_QUESTION, classifier.instruction]
    expected = REFERENCE[kind]
    scores = classifier.score(images, asked)
    for row, reference in zip(scores, expected["scores"]):
        assert list(row.values()) == pytest.approx(reference, abs=2e-5)
    normalised = classifier.with_options(length_normalise=True).score(images[:1])[0]
    assert list(normalised.values()) == pytest.approx(expected["normalised"], abs=2e-5)
    assert [a.text for a in classifier.generate(images, instructions=asked, max_new_tokens=6)] == expected["generate"]


def _config(model_type, architectures=()):
    from types import SimpleNamespace

    return SimpleNamespace(model_type=model_type, architectures=list(architectures))


def _scorer(config) -> str:
    return family_for(config).load().family


def test_the_family_comes_from_the_config():
    assert family_name(_config("instructblip")) == "instructblip" and _scorer(_config("instructblip")) == "instructblip"
    assert family_name(_config("blip-2")) == "blip2" and _scorer(_config("blip-2")) == "blip-2"
    assert _scorer(_config("clip")) == "clip"
    assert family_name(_config("openai-chat")) == "openai" and _scorer(_config("openai-chat")) == "openai"
    for model_type, family in (("llava", "llava"), ("llava_next", "llava-next"), ("idefics3", "idefics3"),
                               ("gemma3", "gemma3"), ("qwen2_vl", "qwen2-vl"), ("qwen2_5_vl", "qwen2.5-vl"),
                               ("smolvlm", "idefics3"), ("paligemma", "vlm")):
        assert family_name(_config(model_type)) == family, model_type
        assert _scorer(_config(model_type)) == "vlm", model_type
    # an unknown model type whose architectures name a known class
    assert family_name(_config("my-fork", ["InstructBlipForConditionalGeneration"])) == "instructblip"
    assert family_name(_config("my-fork", ["LlavaNextForConditionalGeneration"])) == "vlm"
    with pytest.raises(UsageError, match=r"^no scorer for model type 'bert': supported are instructblip, blip-2, "
                                         r"clip, openai-chat and any image-text-to-text checkpoint with a chat template$"):
        family_for(_config("bert", ["BertModel"]))
    assert list(FAMILIES) == ["instructblip", "blip2", "clip", "llava", "llava-next", "llava-onevision", "idefics3",
                              "gemma3", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "internvl", "openai", "vlm"]


def test_a_new_family_is_one_module_and_one_registry_line(monkeypatch, tmp_path):
    """A scorer class named by a new row of FAMILIES is what the classifier uses for that model type."""
    import sys

    import torch

    from emovit_model import families
    from emovit_model.scoring import EmotionClassifier
    from schemas.registry import Registry

    module = tmp_path / "toy_family.py"
    module.write_text(
        "import torch\n"
        "from emovit_model.scorers.base import Ranking, Scorer\n"
        "class ToyScorer(Scorer):\n"
        "    family = 'toy'\n"
        "    def prompt(self, instruction):\n        return instruction\n"
        "    def rank(self, images, instructions, candidates):\n"
        "        return Ranking(torch.arange(len(candidates.labels), dtype=torch.float).repeat(len(images), 1))\n"
        "    def generate(self, images, instructions, max_new_tokens):\n        return ['Predict emotion: awe'] * len(images)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(families, "FAMILIES", Registry("model family", {
        "toy": Family("toy_family:ToyScorer", "a toy", ("toy",)), **FAMILIES}))

    class Model(torch.nn.Linear):
        config = _config("toy")

    classifier = EmotionClassifier(Model(1, 1), None)
    assert classifier.family == "toy"
    assert classifier.predict(_images()[:2]) == ["sadness", "sadness"]  # the last label scores highest
    assert [a.label for a in classifier.generate(_images()[:1])] == ["awe"]
    sys.modules.pop("toy_family", None)
