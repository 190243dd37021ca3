"""From built-dataset rows to LLaVA training batches (the benchmark's ``llava-ft``).

A row's conversation is laid out in the LLaVA-1.5 conversation format of the llava-hf checkpoints, the same
text :class:`emovit_model.scoring.EmotionClassifier` scores (``{prompt} {answer}</s>``)::

    <s>USER: <image>\\n{q1} ASSISTANT: {a1}</s>USER: {q2} ASSISTANT: {a2}</s> ...
    labels: -100 ... (image and question tokens)   | a1 </s> | -100 ...   | a2 </s>

Every answer (with its ``</s>``) is a target and everything else is masked, as the EmoVIT collator does for
InstructBLIP. The ``<image>`` placeholder is expanded to as many image tokens as the processor inserts
(576 for LLaVA-1.5 at 336 px). Sequences longer than ``max_length`` are cut from the right (the image tokens
come first and are never cut when ``max_length`` exceeds their count). Padding is on the right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from builder.sources.imagefiles import DEFAULT_MAX_PIXELS
from emovit_model.collators.instructblip import IGNORE_INDEX, SampleError, qa_turns, row_images
from schemas.protocol import IMAGE_TOKEN

#: The turn layout (``USER: `` opens a question, `` ASSISTANT:`` closes it; an answer follows after a space).
USER, ASSISTANT = "USER: ", " ASSISTANT:"


@dataclass
class LlavaCollator:
    """Turn rows of a built dataset into ``LlavaForConditionalGeneration`` inputs with labels.

    Args:
        processor: a ``LlavaProcessor`` (its tokenizer must be a fast tokenizer: offsets locate the answers).
        max_length: longest sequence in tokens, image tokens included (LLaVA-1.5 trains with 2048).
        augment: optional image augmentation applied before processing.
        max_pixels: the pixel limit, checked from each image's header before it is decoded.
    """

    processor: object
    max_length: int = 2048
    augment: object | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    _image_tokens: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_training(cls, processor, config, augment=None) -> LlavaCollator:
        """The collator of a training run (``config``: its :class:`~emovit_model.train.TrainConfig`)."""
        return cls(processor, max_length=config.max_length, augment=augment, max_pixels=config.max_pixels)

    def __post_init__(self) -> None:
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("the LLaVA collator needs a fast tokenizer (offsets locate the answer tokens)")
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has no EOS token")
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {IMAGE_TOKEN!r} token")
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def image_tokens(self) -> int:
        """How many ``<image>`` tokens the processor puts in place of one placeholder (asked once)."""
        if self._image_tokens is None:
            from PIL import Image

            probe = self.processor(images=[Image.new("RGB", (32, 32))], text=[IMAGE_TOKEN], return_tensors="pt")
            self._image_tokens = int((probe["input_ids"] == self.image_token_id).sum())
        return self._image_tokens

    def conversation(self, pairs: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """The conversation text (image placeholder expanded) and the character spans of the targets."""
        eos = self.tokenizer.eos_token
        text, spans = "", []
        for index, (question, answer) in enumerate(pairs):
            opening = f"{IMAGE_TOKEN * self.image_tokens}\n" if index == 0 else ""
            text += f"{USER}{opening}{question}{ASSISTANT}"
            start = len(text)
            text += f" {answer}{eos}"
            spans.append((start, len(text)))
        return text, spans

    def encode(self, pairs: list[tuple[str, str]]) -> tuple[list[int], list[int]]:
        """``(input_ids, labels)`` of one conversation, cut to ``max_length``."""
        text, spans = self.conversation(pairs)
        encoded = self.tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        labels = []
        for token, (start, end) in zip(ids, encoded["offset_mapping"]):
            target = end > start and any(start < stop and end > begin for begin, stop in spans)
            labels.append(token if target else IGNORE_INDEX)
        return ids[: self.max_length], labels[: self.max_length]

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        encoded = []
        for row in rows:
            try:
                encoded.append(self.encode(qa_turns(row.get("conversations"))))
            except SampleError as exc:
                raise SampleError(f"row {row.get('id', '?')}: {exc}") from None
        width = max(len(ids) for ids, _ in encoded)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        for i, (ids, label) in enumerate(encoded):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            labels[i, : len(label)] = torch.tensor(label)
        images = row_images(rows, self.max_pixels)
        if self.augment is not None:
            images = [self.augment(image) for image in images]
        pixel_values = self.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "pixel_values": pixel_values}
