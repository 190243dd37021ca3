"""Categorical emotion prediction with a vision-language model or CLIP: likelihood ranking and greedy generation.

Two ways to turn a model into a classifier over candidate labels, as the EmoVIT protocol needs:

* **rank** — for each image, score every candidate answer ``Predict emotion: <label>`` (EOS included) by its
  summed log-likelihood under the model, given the instruction; the best-scoring label wins. Never fails to
  produce a label; this is the per-epoch training metric. For CLIP the score is the image-text similarity
  (:data:`CLIP_PROMPTS`).
* **generate** — greedy-decode an answer and parse it into a label (:func:`parse_answer`); an unparseable
  answer has label ``None`` and counts as wrong. Report the failure rate.

Works for InstructBLIP (EmoVIT), BLIP-2, LLaVA and CLIP checkpoints, real or from the tiny zoo::

    from emovit_model.scoring import EmotionClassifier
    clf = EmotionClassifier.from_pretrained("runs/emovit/adapter")   # or any checkpoint dir / Hub id
    scores = clf.score(images)            # list of {label: log-likelihood}
    labels = clf.predict(images)          # list of labels (argmax of score)
    answers = clf.generate(images)        # list of Generation(text, label or None)

Every method takes ``instructions=`` (one per image) to ask each image its own question; by default every
image gets :attr:`EmotionClassifier.instruction`. Results never depend on the batch size beyond float
rounding: images are independent rows, ranking pads answers on the right (after the scored tokens) and
generation pads prompts on the left with matching position ids.

For InstructBLIP the LLM prompt and Q-Former text are encoded exactly as in training
(:class:`emovit_model.collator.EmoVITCollator`) and image features are computed once per image.
Other generative models go through their processor with a prompt template (:data:`PROMPT_TEMPLATES`).
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass

from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_ANSWER_PREFIX,
    CATEGORICAL_INSTRUCTION,
    categorical_answer,
)

#: How each model family is prompted (``{instruction}`` is replaced; ``<image>`` is the processor's placeholder).
#: LLaVA follows the LLaVA-1.5 conversation layout (``USER: <image>\n... ASSISTANT:``) of the llava-hf models.
PROMPT_TEMPLATES: dict[str, str] = {
    "instructblip": "{instruction}",
    "blip-2": "Question: {instruction} Answer:",
    "llava": "USER: <image>\n{instruction} ASSISTANT:",
}
#: CLIP zero-shot prompts. Each label's text embedding is the re-normalised mean of the normalised embeddings
#: of these sentences (prompt ensembling); the first is the one emotion papers report, the others are
#: paraphrases that name the label in the same slot.
CLIP_PROMPTS: tuple[str, ...] = (
    "a photo that evokes {label}",
    "an image that makes the viewer feel {label}",
    "a picture conveying a sense of {label}",
    "a photograph whose mood is {label}",
)
#: Which parse rule produced a label (see :func:`parse_answer`).
PARSE_RULES: tuple[str, ...] = ("exact", "single_label", "failure")


@dataclass(frozen=True)
class Generation:
    """A generated answer and the label parsed from it (``None`` when no label could be read)."""

    text: str
    label: str | None


@dataclass(frozen=True)
class ParsedAnswer:
    """The label an answer commits to (``None`` on failure) and the rule that read it."""

    label: str | None
    rule: str


def _label_alternation(labels) -> str:
    # longest first, so a label that is a prefix of another never shadows it
    return "|".join(re.escape(label.lower()) for label in sorted(labels, key=len, reverse=True))


def parse_answer(text: str, labels=ALPHABETICAL_EMOTIONS) -> ParsedAnswer:
    """Read the label a free-text answer commits to, never guessing.

    1. **exact** — the whole answer is ``Predict emotion: <label>`` (case and surrounding spaces ignored, one
       final ``.`` or ``!`` allowed).
    2. **single_label** (the one fallback) — exactly one distinct candidate label occurs as a whole word
       anywhere in the answer (it may occur several times). ``"awesome"`` does not contain ``awe``.
    3. Anything else — no label, or two or more different labels — is a **failure**: label ``None``, which
       counts as wrong. There is no default, random or first-option label.
    """
    lowered = text.lower()
    alternation = _label_alternation(labels)
    prefix = re.escape(CATEGORICAL_ANSWER_PREFIX.lower().rstrip(":"))
    exact = re.fullmatch(rf"\s*{prefix}\s*:\s*({alternation})\s*[.!]?\s*", lowered)
    if exact:
        return ParsedAnswer(_canonical(exact.group(1), labels), "exact")
    found = {m.group(1) for m in re.finditer(rf"(?<!\w)({alternation})(?!\w)", lowered)}
    if len(found) == 1:
        return ParsedAnswer(_canonical(found.pop(), labels), "single_label")
    return ParsedAnswer(None, "failure")


def parse_emotion(text: str, labels=ALPHABETICAL_EMOTIONS) -> str | None:
    """The label of :func:`parse_answer`, or ``None`` when the answer cannot be read."""
    return parse_answer(text, labels).label


def _canonical(word: str, labels) -> str:
    return next(label for label in labels if label.lower() == word)


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


def _left_padded(ids, mask, pad_id: int):
    """Right-padded ``(ids, mask)`` moved to the left, so every row ends in the last column."""
    import torch

    lengths = mask.sum(1).tolist()
    width = ids.shape[1]
    left_ids, left_mask = torch.full_like(ids, pad_id), torch.zeros_like(mask)
    for i, n in enumerate(lengths):
        left_ids[i, width - n:] = ids[i, :n]
        left_mask[i, width - n:] = 1
    return left_ids, left_mask


def _shared_start(answers) -> list[int]:
    """The token ids every candidate answer of every row starts with, keeping at least one token per answer."""
    flat = [ids for per_row in answers for ids in per_row]
    shared = []
    for position in range(min(len(ids) for ids in flat) - 1):
        token = flat[0][position]
        if any(ids[position] != token for ids in flat):
            break
        shared.append(token)
    return shared


def _positions(mask):
    """Position ids of left-padded rows (0 at each row's first real token)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def _pooled(output):
    """The pooled (projected) embedding of a CLIP ``get_*_features`` result (a tensor or a model output)."""
    return getattr(output, "pooler_output", output)


class EmotionClassifier:
    """Rank or generate emotion labels for images with one model.

    Args:
        model, processor: a loaded conditional-generation model (or ``CLIPModel``) and its processor.
        instruction: the question (default: the categorical protocol instruction).
        labels: candidate labels (default: the eight emotions, alphabetical as in the instruction).
        normalise: apply EmoVIT's original text normalisation to the instruction.
        batch_size: images per forward pass (each image expands to ``len(labels)`` rows when ranking).
        length_normalise: rank by mean instead of summed token log-likelihood.
        prompt_template: override :data:`PROMPT_TEMPLATES` for this model.
        answer_template: the candidate answer, ``{label}`` replaced (default ``Predict emotion: {label}``).
        clip_prompts: CLIP prompt sentences, ``{label}`` replaced (default :data:`CLIP_PROMPTS`).
    """

    def __init__(self, model, processor, *, instruction: str = CATEGORICAL_INSTRUCTION,
                 labels=ALPHABETICAL_EMOTIONS, normalise: bool = False, batch_size: int = 8,
                 length_normalise: bool = False, prompt_template: str | None = None,
                 answer_template: str | None = None, max_prompt_tokens: int = 128,
                 clip_prompts: tuple[str, ...] = CLIP_PROMPTS) -> None:
        self.model = model
        self.processor = processor
        self.instruction = instruction
        self.labels = tuple(labels)
        self.normalise = normalise
        self.batch_size = max(1, int(batch_size))
        self.length_normalise = length_normalise
        self.model_type = model.config.model_type
        self.clip_prompts = tuple(clip_prompts)
        if self.model_type == "clip":
            self.prompt_template = prompt_template or "{instruction}"
        elif prompt_template is None and self.model_type not in PROMPT_TEMPLATES:
            raise ValueError(f"no prompt template for model type {self.model_type!r}; pass prompt_template=")
        else:
            self.prompt_template = prompt_template or PROMPT_TEMPLATES[self.model_type]
        self.answer_template = answer_template
        self._collator = None
        self._prefixes: dict[str, list[int]] = {}
        self._text_embeddings = None
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

    def with_options(self, **changes) -> EmotionClassifier:
        """A classifier sharing this one's model and processor with other ``instruction``, ``labels``,
        ``batch_size``, ``answer_template`` or ``clip_prompts`` (no reload)."""
        allowed = {"instruction", "labels", "batch_size", "answer_template", "clip_prompts", "length_normalise"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"with_options() cannot change {', '.join(sorted(unknown))}")
        other = copy.copy(self)
        for name, value in changes.items():
            setattr(other, name, tuple(value) if name in ("labels", "clip_prompts") else value)
        other.batch_size = max(1, int(other.batch_size))
        other._prefixes = {}
        other._text_embeddings = None
        return other

    @property
    def device(self):
        return next(self.model.parameters()).device

    def prompt(self, instruction: str | None = None) -> str:
        """The text given to the model (before the answer), per the model family's template."""
        from schemas.protocol import normalise_text

        instruction = self.instruction if instruction is None else instruction
        instruction = normalise_text(instruction) if self.normalise else instruction
        return self.prompt_template.format(instruction=instruction)

    def answer(self, label: str) -> str:
        """The candidate answer scored for ``label``."""
        return self.answer_template.format(label=label) if self.answer_template else categorical_answer(label)

    # ------------------------------------------------------------------------------------------ batching
    def _instructions(self, images, instructions) -> list[str]:
        if instructions is None:
            return [self.instruction] * len(images)
        instructions = list(instructions)
        if len(instructions) != len(images):
            raise ValueError(f"{len(instructions)} instructions for {len(images)} images")
        return instructions

    def _batches(self, images, instructions=None):
        """``(images, instructions)`` batches of loaded images, with the model in eval mode, gradients off and
        its autocast on."""
        import torch

        from emovit_model.collator import load_image

        images = list(images)
        instructions = self._instructions(images, instructions)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), autocast_for(self.model):
                for start in range(0, len(images), self.batch_size):
                    stop = start + self.batch_size
                    yield [load_image(image) for image in images[start:stop]], instructions[start:stop]
        finally:
            self.model.train(was_training)

    # ------------------------------------------------------------------------------------------ ranking
    def score(self, images, instructions=None) -> list[dict[str, float]]:
        """Per image, ``{label: score}`` (higher is better): the answer's log-likelihood, or for CLIP the
        scaled cosine similarity of image and label embeddings."""
        results: list[dict[str, float]] = []
        for chunk, asked in self._batches(images, instructions):
            if self.model_type == "clip":
                values = self._score_clip(chunk)
            else:
                if self._collator is not None:
                    totals, counts = self._score_instructblip(chunk, asked)
                else:
                    totals, counts = self._score_generic(chunk, asked)
                values = totals / counts.clamp(min=1) if self.length_normalise else totals
            values = values.reshape(len(chunk), len(self.labels)).float().cpu().tolist()
            results.extend({label: float(v) for label, v in zip(self.labels, row)} for row in values)
        return results

    def predict(self, images, instructions=None) -> list[str]:
        """The best-ranked label per image (ties go to the earlier label in :attr:`labels`)."""
        return [max(scores, key=scores.get) for scores in self.score(images, instructions)]

    # Ranking shares the prompt across the candidates: the prompt (image tokens and question), extended by the
    # tokens every candidate answer starts with ("Predict emotion:"), runs once per image with its key/value
    # cache kept, left-padded so every prompt ends in the last column. Only the differing tails of the
    # candidates then run on that cache; their first token is scored from the prompt's last logits. Same log-likelihoods as scoring every "prompt + answer" row in full (tests hold it to the
    # training loss), at a fraction of the cost.
    def _score_instructblip(self, images, instructions):
        import torch

        collator, model = self._collator, self.model
        text = collator.encode_text(instructions)
        answers = [collator.answer_ids(self.answer(label)) for label in self.labels]
        shared = _shared_start([answers])
        ids, mask = _left_padded(text["input_ids"], text["attention_mask"], collator.pad_token_id)
        ids = torch.cat([ids, torch.tensor([shared] * len(images), dtype=ids.dtype).view(len(images), -1)], dim=1)
        mask = torch.cat([mask, torch.ones((len(images), len(shared)), dtype=mask.dtype)], dim=1)
        pixel_values = collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        features = model.get_image_features(
            pixel_values.to(self.device, dtype=vision_dtype(model)),
            qformer_input_ids=text["qformer_input_ids"].to(self.device),
            qformer_attention_mask=text["qformer_attention_mask"].to(self.device),
            return_dict=True,
        )
        query = getattr(features, "pooler_output", features)
        ids, mask = ids.to(self.device), mask.to(self.device)
        embeds = model.get_input_embeddings()(ids)
        image = (ids == model.config.image_token_id).unsqueeze(-1)
        embeds = embeds.masked_scatter(image, query.to(embeds.dtype))
        out = model.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=_positions(mask),
                                   use_cache=True, logits_to_keep=len(shared) + 1)
        tails = [[a[len(shared):] for a in answers]] * len(images)
        return self._score_answers(out.logits, shared, out.past_key_values, mask, tails, model.language_model,
                                   collator.pad_token_id)

    def _answer_ids(self, prompt: str) -> list[list[int]]:
        """Token ids of each candidate answer (EOS included) as they follow ``prompt``, cached per prompt."""
        if prompt not in self._prefixes:
            tokenizer = self.processor.tokenizer
            eos = tokenizer.eos_token or ""
            head = tokenizer(prompt)["input_ids"]
            answers = []
            for label in self.labels:
                full = tokenizer(f"{prompt} {self.answer(label)}{eos}")["input_ids"]
                if full[: len(head)] != head or len(full) == len(head):
                    raise RuntimeError("prompt tokens change when the answer is appended; cannot rank by likelihood")
                answers.append(full[len(head):])
            self._prefixes[prompt] = answers
        return self._prefixes[prompt]

    def _score_generic(self, images, instructions):
        import torch

        processor, model = self.processor, self.model
        prompts = [self.prompt(instruction) for instruction in instructions]
        answers = [self._answer_ids(p) for p in prompts]
        shared = _shared_start(answers)
        tokenizer = processor.tokenizer
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            inputs = dict(processor(images=images, text=prompts, return_tensors="pt", padding=True))
        finally:
            tokenizer.padding_side = side
        rows = len(images)
        inputs["input_ids"] = torch.cat([inputs["input_ids"], torch.tensor(
            [shared] * rows, dtype=inputs["input_ids"].dtype).view(rows, -1)], dim=1)
        inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones(
            (rows, len(shared)), dtype=inputs["attention_mask"].dtype)], dim=1)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(model))
        mask = inputs["attention_mask"]
        out = model(**inputs, position_ids=_positions(mask), use_cache=True, logits_to_keep=len(shared) + 1)
        past = getattr(out, "past_key_values", None)
        if past is None:  # BLIP-2 keeps its language model's outputs apart
            past = out.language_model_outputs.past_key_values
        continuation = model if self.model_type == "llava" else model.language_model
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        tails = [[a[len(shared):] for a in per_image] for per_image in answers]
        return self._score_answers(out.logits, shared, past, mask, tails, continuation, pad)

    def _score_answers(self, logits, shared, past, prefix_mask, tails, continuation, pad_id):
        """Summed log-probabilities (and token counts) of every candidate ``shared + tails[i][k]``, rows ordered
        image by image, label by label.

        ``logits`` are the prefix's last ``len(shared) + 1`` positions: those predicting each shared token and
        the first tail token. The rest of each tail runs on the prefix cache ``past``, one candidate at a time,
        and the cache is cut back to the prefix after each (never copied: a 7B model's cache of 600 image and
        prompt tokens is ~300 MB per image).
        """
        import torch

        count = len(self.labels)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        common = torch.zeros(logits.shape[0], device=self.device)
        for position, token in enumerate(shared):
            common = common + logprobs[:, position, token]
        totals, counts = [], []
        for k in range(count):  # one candidate at a time on the same cache, cut back after each: no copies
            candidate = [per_image[k] for per_image in tails]
            length = max(len(ids) for ids in candidate)
            tokens = torch.full((len(candidate), length), pad_id, dtype=torch.long, device=self.device)
            present = torch.zeros_like(tokens)
            for row, ids in enumerate(candidate):
                tokens[row, : len(ids)] = torch.tensor(ids, device=self.device)
                present[row, : len(ids)] = 1
            total = common + logprobs[:, -1].gather(-1, tokens[:, :1]).squeeze(-1)
            if length > 1:
                attention = torch.cat([prefix_mask, present[:, :-1]], dim=1)
                positions = prefix_mask.sum(1, keepdim=True) + torch.arange(length - 1, device=self.device)
                out = continuation(input_ids=tokens[:, :-1], attention_mask=attention, position_ids=positions,
                                   past_key_values=past, use_cache=True)
                past.crop(-(length - 1))  # negative: drop the tokens just added (old and new transformers)
                later = torch.log_softmax(out.logits.float(), dim=-1)
                later = later.gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
                total = total + (later * present[:, 1:]).sum(-1)
            totals.append(total)
            counts.append(present.sum(-1) + len(shared))
        return torch.stack(totals, dim=1).reshape(-1), torch.stack(counts, dim=1).reshape(-1)

    def clip_text_embeddings(self):
        """One normalised text embedding per label: the re-normalised mean over :attr:`clip_prompts`."""
        import torch

        if self._text_embeddings is None:
            sentences = [prompt.format(label=label) for label in self.labels for prompt in self.clip_prompts]
            inputs = self.processor.tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
            with torch.no_grad():
                embeds = _pooled(self.model.get_text_features(
                    input_ids=inputs["input_ids"].to(self.device),
                    attention_mask=inputs["attention_mask"].to(self.device))).float()
            embeds = torch.nn.functional.normalize(embeds, dim=-1)
            embeds = embeds.view(len(self.labels), len(self.clip_prompts), -1).mean(1)
            self._text_embeddings = torch.nn.functional.normalize(embeds, dim=-1)
        return self._text_embeddings

    def _score_clip(self, images):
        import torch

        text = self.clip_text_embeddings()
        pixel_values = self.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        image = _pooled(self.model.get_image_features(
            pixel_values=pixel_values.to(self.device, dtype=vision_dtype(self.model)))).float()
        image = torch.nn.functional.normalize(image, dim=-1)
        return self.model.logit_scale.exp().float() * image @ text.T

    # ------------------------------------------------------------------------------------------ generation
    def generate(self, images, *, instructions=None, max_new_tokens: int = 12) -> list[Generation]:
        """Greedy answers and their parsed labels.

        CLIP has no decoder: its answer is the best-ranked label written as the categorical answer
        (``Predict emotion: <label>``), so for CLIP generation equals ranking.
        """
        import torch

        if self.model_type == "clip":
            return [Generation(self.answer(label), label) for label in self.predict(images, instructions)]
        results: list[Generation] = []
        for chunk, asked in self._batches(images, instructions):
            inputs = self._generation_inputs(chunk, asked)
            width = inputs["input_ids"].shape[1]
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                      num_beams=1, pad_token_id=self.processor.tokenizer.pad_token_id)
            new = out[:, width:] if out.shape[1] > width and torch.equal(
                out[:, :width].cpu(), inputs["input_ids"].cpu()) else out
            for text in self.processor.tokenizer.batch_decode(new, skip_special_tokens=True):
                text = text.strip()
                results.append(Generation(text, parse_emotion(text, self.labels)))
        return results

    def _generation_inputs(self, images, instructions) -> dict:
        if self._collator is not None:
            batch = self._collator.encode_text(instructions)
            left_ids, left_mask = _left_padded(batch["input_ids"], batch["attention_mask"], self._collator.pad_token_id)
            pixel_values = self._collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
            inputs = {"input_ids": left_ids, "attention_mask": left_mask, "pixel_values": pixel_values,
                      "qformer_input_ids": batch["qformer_input_ids"],
                      "qformer_attention_mask": batch["qformer_attention_mask"]}
        else:
            tokenizer = self.processor.tokenizer
            side, tokenizer.padding_side = tokenizer.padding_side, "left"
            try:
                inputs = dict(self.processor(images=images, text=[self.prompt(i) for i in instructions],
                                             return_tensors="pt", padding=True))
            finally:
                tokenizer.padding_side = side
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(self.model))
        return inputs
