"""Chat-template VLMs (LLaVA-NeXT and Idefics3 in the zoo, both with a number of image tokens that depends on the
image): prompts from the checkpoint's chat template, ranking equal to a full-sequence computation, batch
invariance, and generation equal to ``model.generate``."""

from __future__ import annotations

import pytest

from emovit_model.scoring import EmotionClassifier, parse_emotion
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer

#: How each zoo family's template ends an assistant answer (read off the real templates by hand).
ANSWER_END = {"llava-next": "</s>", "idefics3": "<end_of_utterance>"}
SIZES = [(32, 32), (32, 64), (64, 32), (48, 48), (24, 40), (40, 24), (32, 96), (56, 32)]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    root = tmp_path_factory.mktemp("chat_zoo")
    return {kind: build_tiny(kind, root / kind, seed=0) for kind in ANSWER_END}


def _images():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(4)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]


def _questions(n):
    others = ["How does this picture make you feel?", "Which emotion fits?"]
    return [CATEGORICAL_INSTRUCTION if i % 3 == 0 else others[i % 2] for i in range(n)]


@pytest.mark.parametrize("kind", list(ANSWER_END))
def test_prompt_is_the_checkpoints_chat_template(zoo, kind):
    classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu")
    assert classifier.family == "vlm"
    expected = {"llava-next": "USER: <image>\nQ? ASSISTANT:",
                "idefics3": "<|begin_of_text|>User:<image>Q?<end_of_utterance>\nAssistant:"}[kind]
    assert classifier.prompt("Q?") == expected
    custom = "{% for m in messages %}<<{{ m['content'][1]['text'] }}>>{% endfor %}{% if add_generation_prompt %}A:{% endif %}"
    assert EmotionClassifier.from_pretrained(zoo[kind], device="cpu", chat_template=custom).prompt("Q?") == "<<Q?>>A:"
    plain = EmotionClassifier.from_pretrained(zoo[kind], device="cpu", prompt_template="<image> {instruction} =")
    assert plain.prompt("Q?") == "<image> Q? ="


@pytest.mark.parametrize("kind", list(ANSWER_END))
def test_rank_scores_equal_the_full_sequence_log_likelihood(zoo, kind):
    """Each candidate scored by one forward pass over prompt + answer tokenised together, summing the answer
    tokens' log-probabilities: the ranking path (prompt cache shared, left padding) must agree to 1e-3 nats."""
    import torch

    classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu", dtype="float32", batch_size=4)
    model, processor = classifier.model, classifier.processor
    images, questions = _images()[:4], _questions(4)
    scores = classifier.score(images, questions)
    bos = processor.tokenizer.bos_token
    for image, question, row in zip(images, questions, scores):
        prompt = classifier.prompt(question)
        special = not prompt.startswith(bos)
        head = processor(images=[image], text=[prompt], add_special_tokens=special, return_tensors="pt")
        for label in ("amusement", "fear", "sadness"):
            text = f"{prompt} {categorical_answer(label)}{ANSWER_END[kind]}"
            full = processor(images=[image], text=[text], add_special_tokens=special, return_tensors="pt")
            answer = full["input_ids"].shape[1] - head["input_ids"].shape[1]
            assert torch.equal(full["input_ids"][0, :-answer], head["input_ids"][0])
            with torch.no_grad():
                logits = model(**full).logits[0, -answer - 1:-1].float()
            targets = full["input_ids"][0, -answer:]
            expected = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).sum().item()
            assert row[label] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("kind", list(ANSWER_END))
def test_batch_1_and_batch_8_agree(zoo, kind):
    classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu", dtype="float32")
    images, questions = _images(), _questions(8)
    one, eight = classifier.with_options(batch_size=1), classifier.with_options(batch_size=8)
    single, batched = one.score(images, questions), eight.score(images, questions)
    assert [max(s, key=s.get) for s in single] == [max(s, key=s.get) for s in batched]
    assert max(abs(a[k] - b[k]) for a, b in zip(single, batched) for k in a) < 1e-4
    assert one.generate(images, instructions=questions, max_new_tokens=6) == \
        eight.generate(images, instructions=questions, max_new_tokens=6)


@pytest.mark.parametrize("kind", list(ANSWER_END))
def test_generate_equals_model_generate(zoo, kind):
    """The classifier's batched answers equal ``model.generate`` on each image's own unpadded processor inputs."""
    classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu", dtype="float32", batch_size=8)
    model, processor = classifier.model, classifier.processor
    images, questions = _images(), _questions(8)
    answers = classifier.generate(images, instructions=questions, max_new_tokens=6)
    bos = processor.tokenizer.bos_token
    for image, question, answer in zip(images, questions, answers):
        prompt = processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            add_generation_prompt=True)
        inputs = processor(images=[image], text=[prompt], add_special_tokens=not prompt.startswith(bos),
                           return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        text = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        assert answer.text == text
        assert answer.label == parse_emotion(text)


def test_a_processor_without_a_chat_template_is_refused_in_one_line(zoo, tmp_path):
    import shutil

    from schemas.errors import UsageError

    folder = tmp_path / "no-template"
    shutil.copytree(zoo["llava-next"], folder)
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(UsageError, match="the processor has no chat template; give the model entry options.chat_template"):
        EmotionClassifier.from_pretrained(folder, device="cpu")
    assert EmotionClassifier.from_pretrained(folder, device="cpu", prompt_template="USER: <image>\n{instruction} "
                                             "ASSISTANT:").prompt("Q?") == "USER: <image>\nQ? ASSISTANT:"
