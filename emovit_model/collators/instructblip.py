"""From built-dataset rows to InstructBLIP training batches.

A row's first human turn, without its ``<image>`` placeholder, is the instruction: it is the Q-Former's text
input and the LLM prompt. The gpt turn that follows is the target. Layout of one LLM sequence, as
``InstructBlipProcessor`` lays it out in transformers 5 (query placeholders first, then BOS)::

    <image> x num_query_tokens | <s> instruction | answer </s> | <pad> ...
    labels: -100 ...           | -100 ...        | answer </s> | -100 ...

A multi-turn conversation (built with ``--keep-conversations``) continues after each answer's EOS with the
next question and answer; every answer is a target, every question is masked, as LLaVA trains::

    <image> x Q | <s> q1 | a1 </s> | q2 | a2 </s> | ...
    labels:     -100 ... | a1 </s> | -100 | a2 </s> | ...

Truncation follows the original LAVIS InstructBLIP: the LLM prompt keeps at most ``max_prompt_tokens``
tokens (BOS included), cutting from the left; the answer keeps at most ``max_answer_tokens`` (EOS included),
cutting from the right; the Q-Former text keeps at most ``max_prompt_tokens``, cutting from the right. Later
questions of a conversation get the prompt budget and later answers the answer budget, each.
Padding is on the right.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from builder.sources.imagefiles import DEFAULT_MAX_PIXELS
from schemas.protocol import IMAGE_TOKEN, conversation_pairs, normalise_text

IGNORE_INDEX = -100


class SampleError(ValueError):
    """A dataset row the collator cannot turn into a training sample."""


def load_image(value, max_pixels: int = DEFAULT_MAX_PIXELS):
    """An RGB PIL image from a decoded image, a ``datasets`` image dict (bytes/path) or a path.

    The pixel limit is checked from the header before decoding; an image over it, or one that cannot be
    decoded, is a :class:`SampleError` naming the file."""
    from PIL import Image

    from builder.sources.imagefiles import ImageProblem, open_image

    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, dict):
        if value.get("bytes"):
            source, name = io.BytesIO(value["bytes"]), value.get("path") or "embedded image"
        elif value.get("path"):
            source = name = value["path"]
        else:
            raise SampleError("image dict has neither bytes nor path")
    elif isinstance(value, (str, Path)):
        source = name = str(value)
    else:
        raise SampleError(f"unsupported image value of type {type(value).__name__}")
    try:
        with open_image(source, max_pixels, name) as image:
            return image.convert("RGB")
    except ImageProblem as problem:
        raise SampleError(f"{problem.reason} ({problem.code})") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data, a file that went away
        raise SampleError(f"{name}: image cannot be decoded ({type(exc).__name__}: {str(exc)[:80]})") from None


def row_images(rows: list[dict], max_pixels: int = DEFAULT_MAX_PIXELS) -> list:
    """The RGB image of every row; a bad image is a :class:`SampleError` naming its row."""
    images = []
    for row in rows:
        try:
            images.append(load_image(row["image"], max_pixels))
        except SampleError as exc:
            raise SampleError(f"row {row.get('id', '?')}: {exc}") from None
    return images


def qa_turns(conversations) -> list[tuple[str, str]]:
    """Every (question, answer) pair of a conversation, the first question without ``<image>``."""
    try:
        pairs = conversation_pairs(list(conversations or []))
    except ValueError as exc:
        raise SampleError(str(exc)) from None
    return [(question.replace(IMAGE_TOKEN, "").strip(), answer.strip()) for question, answer in pairs]


@dataclass
class RandomResizedCropFlip:
    """Train-time augmentation of the LAVIS BLIP-2 train transform, in PIL: a random crop covering
    ``scale`` of the area with aspect ratio in ``ratio``, resized back to the input size, then a horizontal
    flip with probability ``flip_p``. Randomness comes from torch's global generator, which the Trainer seeds
    (and re-seeds per data-loader worker)."""

    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.scale[0] <= self.scale[1] <= 1):
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {self.scale}")
        if not (0 < self.ratio[0] <= self.ratio[1]):
            raise ValueError(f"ratio must satisfy 0 < low <= high, got {self.ratio}")
        if not 0 <= self.flip_p <= 1:
            raise ValueError(f"flip_p must be in [0, 1], got {self.flip_p}")

    def _crop_box(self, width: int, height: int, uniform) -> tuple[int, int, int, int]:
        import math

        area = width * height
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * uniform())
            aspect = math.exp(log_lo + (log_hi - log_lo) * uniform())
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                left = int(uniform() * (width - w + 1))
                top = int(uniform() * (height - h + 1))
                return left, top, left + w, top + h
        return 0, 0, width, height  # fall back to the whole image, as torchvision does (roughly)

    def __call__(self, image):
        import torch
        from PIL import Image

        def uniform() -> float:
            return float(torch.rand(()))

        width, height = image.size
        box = self._crop_box(width, height, uniform)
        image = image.resize((width, height), Image.Resampling.BICUBIC, box=box)
        if uniform() < self.flip_p:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return image


@dataclass
class EmoVITCollator:
    """Turn rows of a built dataset into ``InstructBlipForConditionalGeneration`` inputs with labels.

    Args:
        processor: an ``InstructBlipProcessor`` (its image processor, tokenizer and Q-Former tokenizer are used).
        max_prompt_tokens: LLM prompt / Q-Former text budget (LAVIS ``max_txt_len`` 128).
        max_answer_tokens: answer budget (LAVIS ``max_output_txt_len`` 256).
        normalise: apply EmoVIT's original instruction normalisation (:func:`schemas.protocol.normalise_text`).
        augment: optional image augmentation (e.g. :class:`RandomResizedCropFlip`) applied before processing.
        max_pixels: the pixel limit, checked from each image's header before it is decoded.
    """

    processor: object
    max_prompt_tokens: int = 128
    max_answer_tokens: int = 256
    normalise: bool = False
    augment: object | None = None
    num_query_tokens: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    _bos_prefix: list = field(default_factory=list, init=False, repr=False)

    @classmethod
    def for_training(cls, processor, config, augment=None) -> EmoVITCollator:
        """The collator of a training run (``config``: its :class:`~emovit_model.train.TrainConfig`)."""
        return cls(processor, max_prompt_tokens=config.max_prompt_tokens, max_answer_tokens=config.max_answer_tokens,
                   normalise=config.normalise, augment=augment, max_pixels=config.max_pixels)

    def __post_init__(self) -> None:
        if self.max_prompt_tokens < 2 or self.max_answer_tokens < 1:
            raise ValueError("max_prompt_tokens must be >= 2 and max_answer_tokens >= 1")
        tokenizer = self.tokenizer
        if self.num_query_tokens is None:
            self.num_query_tokens = getattr(self.processor, "num_query_tokens", None)
        if not self.num_query_tokens:
            raise ValueError("num_query_tokens unknown: the processor does not say, pass it explicitly")
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {IMAGE_TOKEN!r} token")
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no EOS token")
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # leading special tokens the tokenizer adds (BOS for Llama/Vicuna), kept when truncating from the left
        probe = tokenizer("x", add_special_tokens=True)["input_ids"]
        bare = tokenizer("x", add_special_tokens=False)["input_ids"]
        starts = [k for k in range(len(probe) - len(bare) + 1) if probe[k:k + len(bare)] == bare]
        self._bos_prefix = probe[: starts[0]] if starts else []

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    # ----------------------------------------------------------------------------------- text
    def prompt_text(self, instruction: str) -> str:
        return normalise_text(instruction) if self.normalise else instruction

    def prompt_ids(self, instruction: str) -> list[int]:
        """BOS + instruction tokens, left-truncated to ``max_prompt_tokens``."""
        ids = self.tokenizer(self.prompt_text(instruction), add_special_tokens=False)["input_ids"]
        keep = self.max_prompt_tokens - len(self._bos_prefix)
        return list(self._bos_prefix) + ids[len(ids) - keep:] if len(ids) > keep else list(self._bos_prefix) + ids

    def answer_ids(self, answer: str) -> list[int]:
        """Answer tokens + EOS, right-truncated to ``max_answer_tokens``."""
        ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        return (ids + [self.tokenizer.eos_token_id])[: self.max_answer_tokens]

    def question_ids(self, question: str) -> list[int]:
        """A later question of a conversation: its tokens, left-truncated to ``max_prompt_tokens``."""
        ids = self.tokenizer(question, add_special_tokens=False)["input_ids"]
        return ids[max(0, len(ids) - self.max_prompt_tokens):]

    def encode_text(self, instructions: list[str], answers: list[str] | None = None,
                    follow_ups: list[list[tuple[str, str]]] | None = None) -> dict:
        """LLM ``input_ids``/``attention_mask``/``labels`` and Q-Former ids for a batch (right-padded tensors).

        Without ``answers`` the sequences end after the prompt (for generation: pad them on the left).
        ``follow_ups[i]`` holds the (question, answer) pairs after row ``i``'s first answer; each answer
        is a target.
        """
        import torch

        rows, labels = [], []
        for i, instruction in enumerate(instructions):
            row = [self.image_token_id] * self.num_query_tokens + self.prompt_ids(instruction)
            label = [IGNORE_INDEX] * len(row)
            if answers is not None:
                answer = self.answer_ids(answers[i])
                row, label = row + answer, label + answer
                for question, later in (follow_ups[i] if follow_ups else ()):
                    asked, answer = self.question_ids(question), self.answer_ids(later)
                    row += asked + answer
                    label += [IGNORE_INDEX] * len(asked) + answer
            rows.append(row)
            labels.append(label)
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        label_tensor = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, (row, label) in enumerate(zip(rows, labels)):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
            label_tensor[i, : len(label)] = torch.tensor(label)
        qformer = self.processor.qformer_tokenizer(
            [self.prompt_text(t) for t in instructions], padding="longest", truncation=True,
            max_length=self.max_prompt_tokens, return_tensors="pt",
        )
        batch = {"input_ids": input_ids, "attention_mask": attention,
                 "qformer_input_ids": qformer["input_ids"], "qformer_attention_mask": qformer["attention_mask"]}
        if answers is not None:
            batch["labels"] = label_tensor
        return batch

    # ----------------------------------------------------------------------------------- images
    def pixel_values(self, images) -> object:
        images = [load_image(image, self.max_pixels) for image in images]
        if self.augment is not None:
            images = [self.augment(image) for image in images]
        return self.processor.image_processor(images, return_tensors="pt")["pixel_values"]

    # ----------------------------------------------------------------------------------- rows
    def __call__(self, rows: list[dict]) -> dict:
        dialogues = []
        for row in rows:
            try:
                dialogues.append(qa_turns(row.get("conversations")))
            except SampleError as exc:
                raise SampleError(f"row {row.get('id', '?')}: {exc}") from None
        batch = self.encode_text([pairs[0][0] for pairs in dialogues], [pairs[0][1] for pairs in dialogues],
                                 [pairs[1:] for pairs in dialogues])
        batch["pixel_values"] = self.pixel_values(row_images(rows, self.max_pixels))
        return batch
