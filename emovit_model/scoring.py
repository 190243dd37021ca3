"""Categorical emotion prediction with a vision-language model: likelihood ranking and greedy generation.

Two ways to turn a model into an 8-way classifier, as the EmoVIT protocol needs:

* **rank** — for each image, score the eight candidate answers ``Predict emotion: <label>`` (EOS included)
  by their summed log-likelihood under the model, given the instruction; the best-scoring label wins.
  Never fails to produce a label; this is the per-epoch training metric.
* **generate** — greedy-decode an answer and parse it into a label (:func:`parse_emotion`); an unparseable
  answer has label ``None`` and counts as wrong. Report the failure rate.

Works for InstructBLIP (EmoVIT), BLIP-2 and LLaVA checkpoints, real or from the tiny zoo::

    from emovit_model.scoring import EmotionClassifier
    clf = EmotionClassifier.from_pretrained("runs/emovit/adapter")   # or any checkpoint dir / Hub id
    scores = clf.score(images)            # list of {label: log-likelihood}
    labels = clf.predict(images)          # list of labels (argmax of score)
    answers = clf.generate(images)        # list of Generation(text, label or None)

For InstructBLIP the LLM prompt and Q-Former text are encoded exactly as in training
(:class:`emovit_model.collator.EmoVITCollator`) and image features are computed once per image.
Other models go through their processor with a prompt template (:data:`PROMPT_TEMPLATES`).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_ANSWER_PREFIX,
    CATEGORICAL_INSTRUCTION,
    categorical_answer,
)

#: How each model family is prompted (``{instruction}`` is replaced; ``<image>`` is the processor's placeholder).
PROMPT_TEMPLATES: dict[str, str] = {
    "instructblip": "{instruction}",
    "blip-2": "Question: {instruction} Answer:",
    "llava": "USER: <image>\n{instruction} ASSISTANT:",
}


@dataclass(frozen=True)
class Generation:
    """A generated answer and the label parsed from it (``None`` when no label could be read)."""

    text: str
    label: str | None


def parse_emotion(text: str, labels=ALPHABETICAL_EMOTIONS) -> str | None:
    """The label a free-text answer names, or ``None``.

    After a ``Predict emotion:`` prefix, the first label mentioned wins. Without the prefix, the answer must
    mention exactly one distinct label; mentioning several is ambiguous and returns ``None``.
    """
    lowered = text.lower()
    pattern = re.compile(r"\b(" + "|".join(re.escape(label.lower()) for label in labels) + r")\b")
    prefix = CATEGORICAL_ANSWER_PREFIX.lower().rstrip(":")
    position = lowered.find(prefix)
    if position >= 0:
        match = pattern.search(lowered, position + len(prefix))
        if match:
            return _canonical(match.group(1), labels)
    found = {m.group(1) for m in pattern.finditer(lowered)}
    if len(found) == 1:
        return _canonical(found.pop(), labels)
    return None


def _canonical(word: str, labels) -> str:
    return next(label for label in labels if label.lower() == word)


def sequence_logprobs(logits, labels):
    """Summed log-probability of the non-ignored ``labels`` (shifted: position t is predicted at t-1),
    and the number of tokens summed, per row."""
    import torch

    logits = logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != -100
    picked = torch.log_softmax(logits, dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1), mask.sum(-1)


def vision_dtype(model):
    """The dtype of the vision tower's weights (what ``pixel_values`` should be cast to)."""
    for name, param in model.named_parameters():
        if "vision" in name and param.is_floating_point():
            return param.dtype
    return next(model.parameters()).dtype


def autocast_for(model):
    """Autocast to the model's half precision when it mixes half-precision towers with fp32 trainable parts
    (as :func:`emovit_model.model.load_emovit` loads it on a GPU); nothing for a single-dtype model."""
    import torch

    device = next(model.parameters()).device
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    half = [d for d in (torch.bfloat16, torch.float16) if d in dtypes]
    if half and torch.float32 in dtypes:
        return torch.autocast(device.type, dtype=half[0])
    return contextlib.nullcontext()


class EmotionClassifier:
    """Rank or generate emotion labels for images with one model.

    Args:
        model, processor: a loaded conditional-generation model and its processor.
        instruction: the question (default: the categorical protocol instruction).
        labels: candidate labels (default: the eight emotions, alphabetical as in the instruction).
        normalise: apply EmoVIT's original text normalisation to the instruction.
        batch_size: images per forward pass (each image expands to ``len(labels)`` rows when ranking).
        length_normalise: rank by mean instead of summed token log-likelihood.
        prompt_template: override :data:`PROMPT_TEMPLATES` for this model.
        answer_template: the candidate answer, ``{label}`` replaced (default ``Predict emotion: {label}``).
    """

    def __init__(self, model, processor, *, instruction: str = CATEGORICAL_INSTRUCTION,
                 labels=ALPHABETICAL_EMOTIONS, normalise: bool = False, batch_size: int = 8,
                 length_normalise: bool = False, prompt_template: str | None = None,
                 answer_template: str | None = None, max_prompt_tokens: int = 128) -> None:
        self.model = model
        self.processor = processor
        self.instruction = instruction
        self.labels = tuple(labels)
        self.normalise = normalise
        self.batch_size = max(1, int(batch_size))
        self.length_normalise = length_normalise
        self.model_type = model.config.model_type
        if prompt_template is None and self.model_type not in PROMPT_TEMPLATES:
            raise ValueError(f"no prompt template for model type {self.model_type!r}; pass prompt_template=")
        self.prompt_template = prompt_template or PROMPT_TEMPLATES[self.model_type]
        self.answer_template = answer_template
        self._collator = None
        if self.model_type == "instructblip":
            from emovit_model.collator import EmoVITCollator

            self._collator = EmoVITCollator(processor, max_prompt_tokens=max_prompt_tokens, normalise=normalise,
                                            num_query_tokens=model.config.num_query_tokens)

    @classmethod
    def from_pretrained(cls, path, *, device="auto", dtype="auto", **options) -> EmotionClassifier:
        """Load a checkpoint directory, Hub id or EmoVIT adapter (see :func:`emovit_model.model.load_model`)."""
        from emovit_model.model import load_model

        model, processor = load_model(path, device=device, dtype=dtype)
        return cls(model, processor, **options)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def prompt(self) -> str:
        """The text given to the model (before the answer), per the model family's template."""
        from schemas.protocol import normalise_text

        instruction = normalise_text(self.instruction) if self.normalise else self.instruction
        return self.prompt_template.format(instruction=instruction)

    def answer(self, label: str) -> str:
        """The candidate answer scored for ``label``."""
        return self.answer_template.format(label=label) if self.answer_template else categorical_answer(label)

    # ------------------------------------------------------------------------------------------ ranking
    def _batches(self, images):
        """Batches of loaded images, with the model in eval mode, gradients off and its autocast on."""
        import torch

        from emovit_model.collator import load_image

        images = list(images)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), autocast_for(self.model):
                for start in range(0, len(images), self.batch_size):
                    yield [load_image(image) for image in images[start:start + self.batch_size]]
        finally:
            self.model.train(was_training)

    def score(self, images) -> list[dict[str, float]]:
        """Per image, ``{label: log-likelihood of its answer}`` (higher is better)."""
        results: list[dict[str, float]] = []
        for chunk in self._batches(images):
            if self._collator is not None:
                totals, counts = self._score_instructblip(chunk)
            else:
                totals, counts = self._score_generic(chunk)
            values = totals / counts.clamp(min=1) if self.length_normalise else totals
            values = values.view(len(chunk), len(self.labels)).cpu().tolist()
            results.extend({label: float(v) for label, v in zip(self.labels, row)} for row in values)
        return results

    def predict(self, images) -> list[str]:
        """The best-ranked label per image."""
        return [max(scores, key=scores.get) for scores in self.score(images)]

    def _score_instructblip(self, images):
        collator, model, count = self._collator, self.model, len(self.labels)
        instructions = [self.instruction] * len(images)
        text = collator.encode_text(instructions)
        pixel_values = collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        features = model.get_image_features(
            pixel_values.to(self.device, dtype=vision_dtype(model)),
            qformer_input_ids=text["qformer_input_ids"].to(self.device),
            qformer_attention_mask=text["qformer_attention_mask"].to(self.device),
            return_dict=True,
        )
        query = getattr(features, "pooler_output", features)
        query = query.repeat_interleave(count, dim=0)
        answers = [self.answer(label) for label in self.labels] * len(images)
        rows = collator.encode_text([self.instruction] * len(answers), answers)
        input_ids = rows["input_ids"].to(self.device)
        embeds = model.get_input_embeddings()(input_ids)
        mask = (input_ids == model.config.image_token_id).unsqueeze(-1)
        embeds = embeds.masked_scatter(mask, query.to(embeds.dtype))
        out = model.language_model(inputs_embeds=embeds, attention_mask=rows["attention_mask"].to(self.device))
        logits = out.logits if hasattr(out, "logits") else out[0]
        return sequence_logprobs(logits, rows["labels"].to(self.device))

    def _score_generic(self, images):
        processor = self.processor
        prompt = self.prompt()
        prefix = processor(images=images[:1], text=[prompt], return_tensors="pt")["input_ids"][0].tolist()
        texts, expanded = [], []
        for image in images:
            for label in self.labels:
                texts.append(f"{prompt} {self.answer(label)}{processor.tokenizer.eos_token or ''}")
                expanded.append(image)
        inputs = processor(images=expanded, text=texts, return_tensors="pt", padding=True)
        input_ids = inputs["input_ids"]
        if input_ids[0, : len(prefix)].tolist() != prefix:
            raise RuntimeError("prompt tokens change when the answer is appended; cannot rank by likelihood")
        labels = input_ids.clone()
        labels[:, : len(prefix)] = -100
        labels[inputs["attention_mask"] == 0] = -100
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(self.model))
        logits = self.model(**inputs).logits
        return sequence_logprobs(logits, labels.to(self.device))

    # ------------------------------------------------------------------------------------------ generation
    def generate(self, images, *, max_new_tokens: int = 12) -> list[Generation]:
        """Greedy answers and their parsed labels."""
        import torch

        results: list[Generation] = []
        for chunk in self._batches(images):
            inputs = self._generation_inputs(chunk)
            width = inputs["input_ids"].shape[1]
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                      num_beams=1, pad_token_id=self.processor.tokenizer.pad_token_id)
            new = out[:, width:] if out.shape[1] > width and torch.equal(
                out[:, :width].cpu(), inputs["input_ids"].cpu()) else out
            for text in self.processor.tokenizer.batch_decode(new, skip_special_tokens=True):
                text = text.strip()
                results.append(Generation(text, parse_emotion(text, self.labels)))
        return results

    def _generation_inputs(self, images) -> dict:
        import torch

        if self._collator is not None:
            batch = self._collator.encode_text([self.instruction] * len(images))
            ids, mask = batch["input_ids"], batch["attention_mask"]
            lengths = mask.sum(1)
            left_ids = torch.full_like(ids, self._collator.pad_token_id)
            left_mask = torch.zeros_like(mask)
            for i, n in enumerate(lengths.tolist()):  # every prompt is the same, but stay general
                left_ids[i, ids.shape[1] - n:] = ids[i, :n]
                left_mask[i, ids.shape[1] - n:] = 1
            pixel_values = self._collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
            inputs = {"input_ids": left_ids, "attention_mask": left_mask, "pixel_values": pixel_values,
                      "qformer_input_ids": batch["qformer_input_ids"],
                      "qformer_attention_mask": batch["qformer_attention_mask"]}
        else:
            tokenizer = self.processor.tokenizer
            side, tokenizer.padding_side = tokenizer.padding_side, "left"
            try:
                inputs = dict(self.processor(images=images, text=[self.prompt()] * len(images),
                                             return_tensors="pt", padding=True))
            finally:
                tokenizer.padding_side = side
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(self.model))
        return inputs


def accuracy(predicted, gold) -> float:
    """Share of positions where ``predicted`` equals ``gold`` (``None`` predictions count as wrong)."""
    predicted, gold = list(predicted), list(gold)
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    return sum(p is not None and p == g for p, g in zip(predicted, gold)) / max(len(gold), 1)
