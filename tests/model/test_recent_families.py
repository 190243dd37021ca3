"""The 2025-2026 reference families through the scorer registry, on this machine (no torchvision): Qwen2-VL,
Qwen2.5-VL, Qwen3-VL, Gemma 3, InternVL and LLaVA-OneVision tiny checkpoints in their Hub folder layout score in
rank and generate mode with their own chat templates. Ranking equals a one-pass full-sequence computation (1e-3
nats) and generation equals ``model.generate`` on padded batches of images of different sizes (different numbers
of image tokens per row), and the multimodal rotary positions of a padded batch are those computed by hand from
each image's ``image_grid_thw``. Batch 1 equals batch 8 for every family through its adapter:
``tests/harness/test_batch_invariance.py``."""

from __future__ import annotations

import json
import shutil

import pytest

from emovit_model.scoring import EmotionClassifier, parse_emotion
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer

FAMILIES = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl", "gemma3", "internvl", "llava-onevision")
QWEN = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")
#: Each family's prompt for one image and the question "Q?", read off the real chat templates by hand.
PROMPTS = {
    "qwen2-vl": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                "<|vision_start|><|image_pad|><|vision_end|>Q?<|im_end|>\n<|im_start|>assistant\n",
    "qwen3-vl": "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Q?<|im_end|>\n<|im_start|>assistant\n",
    "gemma3": "<bos><start_of_turn>user\n<start_of_image>Q?<end_of_turn>\n<start_of_turn>model\n",
    "internvl": "<|im_start|>user\n<IMG_CONTEXT>\nQ?<|im_end|>\n<|im_start|>assistant\n",
    "llava-onevision": "<|im_start|>user <image>\nQ?<|im_end|><|im_start|>assistant\n",
}
PROMPTS["qwen2.5-vl"] = PROMPTS["qwen2-vl"]
#: How each template ends an assistant answer (the end-of-turn special token).
ANSWER_END = {kind: "<|im_end|>" for kind in FAMILIES} | {"gemma3": "<end_of_turn>"}
SIZES = [(32, 32), (32, 64), (64, 32), (48, 48), (24, 40), (40, 24), (32, 96), (56, 32)]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    root = tmp_path_factory.mktemp("recent_zoo")
    return {kind: build_tiny(kind, root / kind, seed=0) for kind in FAMILIES}


@pytest.fixture(scope="module")
def classifiers(zoo):
    return {kind: EmotionClassifier.from_pretrained(zoo[kind], device="cpu", dtype="float32") for kind in FAMILIES}


def _images():
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(4)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in SIZES]


def _questions(n):
    others = ["How does this picture make you feel?", "Which emotion fits?"]
    return [CATEGORICAL_INSTRUCTION if i % 3 == 0 else others[i % 2] for i in range(n)]


def test_the_zoo_writes_hub_folders_naming_the_real_processor_classes(zoo):
    """Config, weights, preprocessor_config.json naming the real processor class, tokenizer files and the chat
    template: the layout of the Hub repositories (no pickles)."""
    named = {"qwen2-vl": "Qwen2VLProcessor", "qwen2.5-vl": "Qwen2_5_VLProcessor", "qwen3-vl": "Qwen3VLProcessor",
             "internvl": "InternVLProcessor", "llava-onevision": "LlavaOnevisionProcessor"}
    for kind, name in named.items():
        files = {p.name for p in zoo[kind].iterdir()}
        assert {"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
                "tokenizer_config.json", "chat_template.jinja"} <= files, kind
        assert not any(f.endswith((".bin", ".pt", ".pth")) for f in files)
        assert json.loads((zoo[kind] / "preprocessor_config.json").read_text())["processor_class"] == name
    assert json.loads((zoo["internvl"] / "processor_config.json").read_text())["image_seq_length"] == 4


@pytest.mark.parametrize("kind", FAMILIES)
def test_prompt_is_the_checkpoints_chat_template(classifiers, kind):
    classifier = classifiers[kind]
    assert classifier.family == "vlm"
    assert classifier.prompt("Q?") == PROMPTS[kind]
    before, end = classifier.scorer.assistant_turn()
    assert (before, end) == ("", ANSWER_END[kind])


@pytest.mark.parametrize("kind", FAMILIES)
def test_rank_scores_equal_the_full_sequence_log_likelihood(classifiers, kind):
    """Each candidate scored by one forward pass over prompt + answer tokenised together (the model placing its
    own positions, M-RoPE included), summing the answer tokens' log-probabilities: the ranking path (prompt cache
    shared, left padding, images of different sizes in one batch) agrees to 1e-3 nats."""
    import torch

    classifier = classifiers[kind].with_options(batch_size=4)
    model, processor = classifier.model, classifier.processor
    images, questions = _images()[2:6], _questions(4)
    scores = classifier.score(images, questions)
    for image, question, row in zip(images, questions, scores):
        prompt = classifier.prompt(question)
        head = processor(images=[[image]], text=[prompt], add_special_tokens=False, return_tensors="pt")
        for label in ("amusement", "fear", "sadness"):
            text = f"{prompt}{categorical_answer(label)}{ANSWER_END[kind]}"
            full = processor(images=[[image]], text=[text], add_special_tokens=False, return_tensors="pt")
            answer = full["input_ids"].shape[1] - head["input_ids"].shape[1]
            assert answer > 1 and torch.equal(full["input_ids"][0, :-answer], head["input_ids"][0])
            with torch.no_grad():
                logits = model(**full).logits[0, -answer - 1:-1].float()
            targets = full["input_ids"][0, -answer:]
            expected = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).sum().item()
            assert row[label] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("kind", FAMILIES)
def test_generate_equals_model_generate(classifiers, kind):
    """The classifier's batched answers equal ``model.generate`` on each image's own unpadded processor inputs."""
    classifier = classifiers[kind].with_options(batch_size=4)
    model, processor = classifier.model, classifier.processor
    images, questions = _images()[3:7], _questions(4)
    answers = classifier.generate(images, instructions=questions, max_new_tokens=6)
    texts = []
    for image, question, answer in zip(images, questions, answers):
        prompt = processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            add_generation_prompt=True)
        inputs = processor(images=[[image]], text=[prompt], add_special_tokens=False, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        text = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
        assert answer.text == text
        assert answer.label == parse_emotion(text)
        texts.append(text)
    assert len(set(texts)) > 1  # the answers depend on the image


def _hand_positions(types: list[int], grids: list[tuple[int, int, int]], merge: int = 2) -> list[list[int]]:
    """M-RoPE positions (temporal, height, width) of one unpadded row, from Qwen2-VL's rule: text tokens count
    up on all three axes; an image's tokens sit on its merged grid, offset by the position it starts at; the
    text after an image starts at that offset plus the image's larger merged side."""
    axes, offset, grids, index = [[], [], []], 0, list(grids), 0
    while index < len(types):
        if types[index] == 0:
            for axis in axes:
                axis.append(offset)
            offset, index = offset + 1, index + 1
            continue
        _, height, width = grids.pop(0)
        height, width = height // merge, width // merge
        for row in range(height):
            for column in range(width):
                axes[0].append(offset)
                axes[1].append(offset + row)
                axes[2].append(offset + column)
        offset, index = offset + max(height, width), index + height * width
    return axes


@pytest.mark.parametrize("kind", QWEN)
def test_multimodal_rotary_positions_are_right_for_every_image_of_a_padded_batch(classifiers, kind):
    """Images of eight sizes in one left-padded batch: every row's positions, computed here by hand from its own
    ``image_grid_thw``, are the ones the ranking pass uses; padding is skipped; the answer continues after each
    row's largest position; and each image's grid is its own size cut to 16-px merged patches."""
    import torch

    classifier = classifiers[kind]
    scorer = classifier.scorer
    images = _images()
    inputs = scorer.inputs(images, [classifier.prompt(q) for q in _questions(8)])
    grids = inputs["image_grid_thw"].tolist()
    # each side rounded to 16 px (halves to even: 24 -> 32, 40 -> 32, 56 -> 64), in 8-px patches
    assert grids == [[1, 4, 4], [1, 4, 8], [1, 8, 4], [1, 6, 6], [1, 4, 4], [1, 4, 4], [1, 4, 12], [1, 8, 4]]
    position_ids, start = scorer.prefix_positions(inputs)
    mask = inputs["attention_mask"].bool()
    assert position_ids.shape == (3, 8, mask.shape[1]) and not mask.all()  # a padded batch
    for row in range(8):
        types = inputs["mm_token_type_ids"][row][mask[row]].tolist()
        expected = _hand_positions(types, [tuple(grids[row])])
        assert position_ids[:, row][:, mask[row]].tolist() == expected
        assert start[row].item() == max(max(axis) for axis in expected) + 1
    assert torch.equal(position_ids[:, ~mask], torch.zeros_like(position_ids[:, ~mask]))


def test_the_image_only_processor_gives_what_the_full_one_gives(classifiers, monkeypatch):
    """Qwen's full processor (its video half present but, for images, never called) and the image-only one give
    the same input_ids, attention mask, token types, pixel_values and image_grid_thw."""
    import torch
    from transformers import Qwen2_5_VLProcessor
    from transformers.processing_utils import ProcessorMixin
    from transformers.video_processing_utils import BaseVideoProcessor

    class NoVideo(BaseVideoProcessor):
        def __call__(self, *args, **kwargs):
            raise AssertionError("the video processor was called for images")

    # transformers checks the video processor's class through a registry that only exists with torchvision
    checked = ProcessorMixin.check_argument_for_proper_class
    monkeypatch.setattr(ProcessorMixin, "check_argument_for_proper_class",
                        lambda self, name, arg: None if name == "video_processor" else checked(self, name, arg))
    image_only = classifiers["qwen2.5-vl"].processor
    full = Qwen2_5_VLProcessor(image_processor=image_only.image_processor, tokenizer=image_only.tokenizer,
                               video_processor=NoVideo(), chat_template=image_only.chat_template)
    prompts = [classifiers["qwen2.5-vl"].prompt(q) for q in _questions(4)]
    images = [[image] for image in _images()[:4]]
    ours = image_only(images=images, text=prompts, return_tensors="pt", padding=True)
    theirs = full(images=images, text=prompts, return_tensors="pt", padding=True)
    assert set(ours) == set(theirs) == {"input_ids", "attention_mask", "mm_token_type_ids", "pixel_values",
                                        "image_grid_thw"}
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_the_full_processor_is_loaded_where_torchvision_imports(zoo, classifiers, monkeypatch):
    """Branch selection: without torchvision the processor class less its video half; with it (simulated here:
    torchvision cannot be installed beside this CPU torch) plain ``AutoProcessor``, whose processor then scores
    exactly as the image-only one."""
    import transformers
    from transformers import AutoConfig, AutoProcessor

    from emovit_model import processors

    assert processors.has_torchvision() is False  # this machine: the tests above ran the torchvision-less path
    config = AutoConfig.from_pretrained(zoo["qwen2-vl"])
    assert type(processors.load_processor(zoo["qwen2-vl"], config)).__name__ == "Qwen2VLProcessorImageOnly"
    assert type(processors.load_processor(zoo["qwen2-vl"], config).image_processor).__name__ == \
        "Qwen2VLImageProcessorPil"
    with pytest.raises(ImportError, match="Torchvision"):
        AutoProcessor.from_pretrained(zoo["qwen2-vl"])  # what `bench run` died of before

    image_only = classifiers["qwen2-vl"].processor
    calls = []

    def auto_processor(reference, **kwargs):  # stands in for the full processor a torchvision machine builds
        calls.append(str(reference))
        processor = transformers.Qwen2VLProcessor.__new__(transformers.Qwen2VLProcessor)
        processor.__dict__.update(image_only.__dict__)
        return processor

    monkeypatch.setattr(processors, "has_torchvision", lambda: True)
    monkeypatch.setattr(AutoProcessor, "from_pretrained", auto_processor)
    loaded = processors.load_processor(zoo["qwen2-vl"], config)
    assert calls == [str(zoo["qwen2-vl"])] and type(loaded) is transformers.Qwen2VLProcessor
    gemma = processors.load_processor(zoo["gemma3"], AutoConfig.from_pretrained(zoo["gemma3"]))
    assert calls[-1] == str(zoo["gemma3"]) and gemma is not None  # no video half: AutoProcessor either way

    images = _images()[:3]
    full = EmotionClassifier(classifiers["qwen2-vl"].model, loaded)
    assert full.score(images) == classifiers["qwen2-vl"].score(images)


def test_a_template_kept_in_tokenizer_config_is_used(zoo, tmp_path):
    """Older Hub folders keep the chat template inside tokenizer_config.json, with no chat_template file."""
    folder = tmp_path / "qwen2-vl"
    shutil.copytree(zoo["qwen2-vl"], folder)
    template = (folder / "chat_template.jinja").read_text()
    (folder / "chat_template.jinja").unlink()
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": template}))
    classifier = EmotionClassifier.from_pretrained(folder, device="cpu")
    assert classifier.prompt("Q?") == PROMPTS["qwen2-vl"]


def test_a_thinking_template_ranks_the_answer_after_an_empty_reasoning_block(zoo):
    """Qwen3-VL Thinking's template opens a ``<think>`` block in the generation prompt; a ranked answer follows the
    template's empty reasoning block (``</think>`` and a blank line), ending with ``<|im_end|>``."""
    from emovit_model.zoo.chat_templates import QWEN3_VL_THINKING_CHAT_TEMPLATE

    classifier = EmotionClassifier.from_pretrained(zoo["qwen3-vl"], device="cpu", dtype="float32",
                                                   chat_template=QWEN3_VL_THINKING_CHAT_TEMPLATE)
    assert classifier.prompt("Q?") == PROMPTS["qwen3-vl"] + "<think>\n"
    assert classifier.scorer.assistant_turn() == ("\n</think>\n\n", "<|im_end|>")
    tokenizer = classifier.processor.tokenizer
    tails = classifier.scorer.answer_ids(classifier.prompt("Q?"), ("Predict emotion: awe",))
    assert tokenizer.decode(tails[0]) == "\n</think>\n\nPredict emotion: awe<|im_end|>"
    assert tokenizer.convert_ids_to_tokens(tails[0])[1] == "</think>"  # one token, as in Qwen3's vocabulary
    # generation: the answer as the model's turn reads, the template's <think> first; cut off inside it, no label
    image = _images()[0]
    [answer] = classifier.generate([image], max_new_tokens=4)
    inputs = classifier.processor(images=[[image]], text=[classifier.prompt(classifier.instruction)],
                                  add_special_tokens=False, return_tensors="pt")
    out = classifier.model.generate(**inputs, max_new_tokens=4, do_sample=False)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert answer.text == f"<think>\n{text}" and "</think>" not in text and answer.label is None
