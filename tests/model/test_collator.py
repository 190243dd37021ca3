"""The data collator: sequence layout, label masking, truncation, normalisation and augmentation."""

from __future__ import annotations

import io

import pytest

from emovit_model.collators.instructblip import (
    IGNORE_INDEX,
    EmoVITCollator,
    RandomResizedCropFlip,
    SampleError,
)
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, normalise_text, with_image_token


@pytest.fixture(scope="module")
def processor(tiny_instructblip):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_instructblip)


def _image(color=(200, 30, 30), size=32):
    from PIL import Image

    return Image.new("RGB", (size, size), color)


def _row(instruction=CATEGORICAL_INSTRUCTION, answer=None, image=None):
    return {"id": "x", "image": image if image is not None else _image(),
            "conversations": [{"from": "human", "value": with_image_token(instruction)},
                              {"from": "gpt", "value": answer or categorical_answer("awe")}]}


def test_labels_mask_exactly_image_prompt_and_padding(processor):
    collator = EmoVITCollator(processor)
    tokenizer = processor.tokenizer
    nq = processor.num_query_tokens
    rows = [_row(), _row("What is happening here?", "Two people are dancing in the rain.")]
    batch = collator(rows)
    assert batch["labels"].shape == batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["pixel_values"].shape == (2, 3, 32, 32)
    for i, (instruction, answer) in enumerate([(CATEGORICAL_INSTRUCTION, categorical_answer("awe")),
                                               ("What is happening here?", "Two people are dancing in the rain.")]):
        prompt = [tokenizer.bos_token_id] + tokenizer(instruction, add_special_tokens=False)["input_ids"]
        target = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids, labels, mask = batch["input_ids"][i].tolist(), batch["labels"][i].tolist(), batch["attention_mask"][i]
        length = nq + len(prompt) + len(target)
        assert ids[:nq] == [collator.image_token_id] * nq
        assert ids[nq:nq + len(prompt)] == prompt
        assert ids[nq + len(prompt):length] == target
        assert labels[:nq + len(prompt)] == [IGNORE_INDEX] * (nq + len(prompt))
        assert labels[nq + len(prompt):length] == target
        assert labels[length:] == [IGNORE_INDEX] * (len(labels) - length)
        assert ids[length:] == [tokenizer.pad_token_id] * (len(ids) - length)
        assert mask.sum().item() == length
    assert (batch["labels"][1] != IGNORE_INDEX).sum() > 0
    # the Q-Former reads the instruction without the image placeholder
    qformer = processor.qformer_tokenizer("What is happening here?")["input_ids"]
    assert batch["qformer_input_ids"][1, : len(qformer)].tolist() == qformer


def test_a_kept_conversation_trains_on_every_answer_and_masks_every_question(processor):
    """--keep-conversations rows: labels on all gpt turns (+ EOS each), -100 on image, questions, padding."""
    collator = EmoVITCollator(processor)
    tokenizer = processor.tokenizer
    nq = processor.num_query_tokens
    pairs = [("What is the setting?", "A quiet beach at dusk."), ("Who is there?", "Two friends."),
             ("How does it feel?", "Calm and content, because the light is soft.")]
    conversation = []
    for number, (question, answer) in enumerate(pairs):
        conversation += [{"from": "human", "value": with_image_token(question) if number == 0 else question},
                         {"from": "gpt", "value": answer}]
    batch = collator([{"id": "c", "image": _image(), "conversations": conversation}, _row()])

    def ids(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    eos = tokenizer.eos_token_id
    expected_ids = [collator.image_token_id] * nq + [tokenizer.bos_token_id] + ids(pairs[0][0])
    expected_labels = [IGNORE_INDEX] * len(expected_ids)
    for number, (question, answer) in enumerate(pairs):
        if number:
            expected_ids += ids(question)
            expected_labels += [IGNORE_INDEX] * len(ids(question))
        expected_ids += ids(answer) + [eos]
        expected_labels += ids(answer) + [eos]
    length = len(expected_ids)
    assert batch["input_ids"][0, :length].tolist() == expected_ids
    assert batch["labels"][0, :length].tolist() == expected_labels
    assert batch["labels"][0, length:].eq(IGNORE_INDEX).all() and batch["attention_mask"][0].sum() == length
    supervised = batch["labels"][0][batch["labels"][0] != IGNORE_INDEX].tolist()
    assert supervised.count(eos) == 3 and supervised[-1] == eos
    segments, current = [], []
    for token in supervised:  # each answer's tokens, cut at its EOS
        if token == eos:
            segments.append(tokenizer.decode(current).strip())
            current = []
        else:
            current.append(token)
    assert segments == [a for _, a in pairs]
    # the Q-Former reads only the first question
    first = processor.qformer_tokenizer(pairs[0][0])["input_ids"]
    assert batch["qformer_input_ids"][0, : len(first)].tolist() == first
    with pytest.raises(SampleError, match="3 turn"):
        collator([{"id": "odd", "image": _image(), "conversations": conversation[:3]}])


def test_prompt_layout_matches_the_processor(processor):
    """Same ids as InstructBlipProcessor for the prompt part: query placeholders, then BOS, then text."""
    collator = EmoVITCollator(processor)
    batch = collator([_row()])
    reference = processor(images=_image(), text=CATEGORICAL_INSTRUCTION, return_tensors="pt")
    width = reference["input_ids"].shape[1]
    assert batch["input_ids"][0, :width].tolist() == reference["input_ids"][0].tolist()
    assert batch["qformer_input_ids"][0].tolist() == reference["qformer_input_ids"][0].tolist()
    assert batch["pixel_values"].allclose(reference["pixel_values"])


def test_truncation_cuts_prompt_from_the_left_and_answer_from_the_right(processor):
    tokenizer = processor.tokenizer
    collator = EmoVITCollator(processor, max_prompt_tokens=6, max_answer_tokens=3)
    instruction = "one two three four five six seven eight nine ten"
    answer = "alpha beta gamma delta epsilon"
    batch = collator([_row(instruction, answer)])
    nq = processor.num_query_tokens
    words = tokenizer(instruction, add_special_tokens=False)["input_ids"]
    ids = batch["input_ids"][0].tolist()
    assert ids[nq:nq + 6] == [tokenizer.bos_token_id] + words[-5:]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    assert ids[nq + 6:] == answer_ids[:3]
    assert batch["labels"][0].tolist()[nq + 6:] == answer_ids[:3]
    assert batch["qformer_input_ids"].shape[1] == 6  # Q-Former text: right-truncated to the same budget
    assert batch["qformer_input_ids"][0, 1].item() == processor.qformer_tokenizer(
        instruction, add_special_tokens=False)["input_ids"][0]


def test_original_normalisation_is_an_option(processor):
    plain = EmoVITCollator(processor)([_row()])
    normalised = EmoVITCollator(processor, normalise=True)([_row()])
    tokenizer = processor.tokenizer
    expected = tokenizer(normalise_text(CATEGORICAL_INSTRUCTION), add_special_tokens=False)["input_ids"]
    nq = processor.num_query_tokens
    assert normalised["input_ids"][0, nq + 1:nq + 1 + len(expected)].tolist() == expected
    assert plain["input_ids"].shape != normalised["input_ids"].shape or \
        not plain["input_ids"].equal(normalised["input_ids"])


def test_images_may_be_paths_bytes_or_pil(processor, tmp_path):
    image = _image((10, 120, 240))
    path = tmp_path / "x.png"
    image.save(path)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    collator = EmoVITCollator(processor)
    batch = collator([_row(image=str(path)), _row(image={"bytes": buffer.getvalue(), "path": None}),
                      _row(image=image)])
    assert batch["pixel_values"][0].equal(batch["pixel_values"][1])
    assert batch["pixel_values"][0].equal(batch["pixel_values"][2])


def test_malformed_conversations_are_reported(processor):
    collator = EmoVITCollator(processor)
    row = _row()
    row["conversations"] = row["conversations"][:1]
    with pytest.raises(SampleError, match="row x"):
        collator([row])


def test_augmentation_crops_flips_and_follows_the_torch_seed():
    import numpy as np
    import torch
    from PIL import Image

    array = np.zeros((32, 32, 3), dtype=np.uint8)
    array[:, :16] = (255, 0, 0)  # left half red, right half blue
    array[:, 16:] = (0, 0, 255)
    image = Image.fromarray(array)
    always_flip = RandomResizedCropFlip(scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=1.0)
    flipped = np.asarray(always_flip(image))
    assert flipped.shape == (32, 32, 3)
    assert flipped[16, 2, 2] > 200 and flipped[16, 29, 0] > 200  # blue now on the left, red on the right
    crop = RandomResizedCropFlip(scale=(0.2, 0.3), flip_p=0.0)
    torch.manual_seed(0)
    first = np.asarray(crop(image))
    torch.manual_seed(0)
    again = np.asarray(crop(image))
    assert first.shape == (32, 32, 3) and (first == again).all()
    assert not (first == array).all()
    with pytest.raises(ValueError):
        RandomResizedCropFlip(scale=(0.9, 0.1))
