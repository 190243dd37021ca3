"""Categorical emotion prediction with any supported model: likelihood ranking and greedy generation.

Two ways to turn a model into a classifier over candidate labels, as the EmoVIT protocol needs:

* **rank** — for each image, score every candidate answer ``Predict emotion: <label>`` (its end-of-answer
  token included) by its summed log-likelihood under the model, given the instruction; the best-scoring
  label wins. Never fails to produce a label; this is the per-epoch training metric. For CLIP the score is
  the image-text similarity (:data:`CLIP_PROMPTS`); for an API model, the first-token log-probability of each
  label word (:mod:`emovit_model.scorers.api`).
* **generate** — greedy-decode an answer and parse it into a label (:func:`schemas.protocol.parse_answer`); an unparseable
  answer has label ``None`` and counts as wrong. Report the failure rate.

The model family decides how a prompt is built and scored: a scorer per family
(:mod:`emovit_model.scorers`: InstructBLIP/EmoVIT, BLIP-2, CLIP, chat-template VLMs, OpenAI-compatible API
models) is picked from the checkpoint's config. :class:`EmotionClassifier` is the one entry point::

    from emovit_model.scoring import EmotionClassifier
    clf = EmotionClassifier.from_pretrained("runs/emovit/adapter")   # or any checkpoint dir / Hub id
    scores = clf.score(images)            # list of {label: log-likelihood}
    labels = clf.predict(images)          # list of labels (argmax of score)
    answers = clf.generate(images)        # list of Generation(text, label or None)

Every method takes ``instructions=`` (one per image) to ask each image its own question; by default every
image gets :attr:`EmotionClassifier.instruction`. Results never depend on the batch size beyond float
rounding: images are independent rows, ranking pads answers on the right (after the scored tokens) and
generation pads prompts on the left with matching position ids.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from emovit_model.scorers.base import Candidates, ScorerOptions, autocast_for, vision_dtype
from emovit_model.scorers.clip import CLIP_PROMPTS

# The answer parser is the stages' protocol (schemas.protocol); its names stay importable from here.
from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_INSTRUCTION,
    PARSE_RULES,
    ParsedAnswer,
    categorical_answer,
    parse_answer,
    parse_emotion,
)


@dataclass(frozen=True)
class Generation:
    """A generated answer and the label parsed from it (``None`` when no label could be read)."""

    text: str
    label: str | None


class EmotionClassifier:
    """Rank or generate emotion labels for images with one model.

    Args:
        model, processor: a loaded model and its processor (any family of :mod:`emovit_model.scorers`), or an
            :class:`~emovit_model.scorers.api.ApiModel` and ``None``.
        instruction: the question (default: the categorical protocol instruction).
        labels: candidate labels (default: the eight emotions, alphabetical as in the instruction).
        normalise: apply EmoVIT's original text normalisation to the instruction.
        batch_size: images per forward pass (each image expands to ``len(labels)`` rows when ranking).
        length_normalise: rank by mean instead of summed token log-likelihood.
        prompt_template: a plain prompt (``{instruction}`` replaced) instead of the family's prompt or the
            checkpoint's chat template.
        chat_template: a Jinja chat template instead of the processor's (chat-template models).
        answer_template: the candidate answer, ``{label}`` replaced (default ``Predict emotion: {label}``).
        max_prompt_tokens: the InstructBLIP prompt budget (LAVIS ``max_txt_len``).
        clip_prompts: CLIP prompt sentences, ``{label}`` replaced (default :data:`CLIP_PROMPTS`).
    """

    def __init__(self, model, processor, *, instruction: str = CATEGORICAL_INSTRUCTION,
                 labels=ALPHABETICAL_EMOTIONS, normalise: bool = False, batch_size: int = 8,
                 length_normalise: bool = False, prompt_template: str | None = None,
                 answer_template: str | None = None, max_prompt_tokens: int = 128,
                 clip_prompts: tuple[str, ...] = CLIP_PROMPTS, chat_template: str | None = None) -> None:
        from emovit_model.scorers import scorer_for

        self.model = model
        self.processor = processor
        self.instruction = instruction
        self.labels = tuple(labels)
        self.normalise = normalise
        self.batch_size = max(1, int(batch_size))
        self.length_normalise = length_normalise
        self.answer_template = answer_template
        self.clip_prompts = tuple(clip_prompts)
        self.scorer = scorer_for(model, processor, ScorerOptions(
            normalise=normalise, prompt_template=prompt_template, chat_template=chat_template,
            max_prompt_tokens=max_prompt_tokens))

    @classmethod
    def from_pretrained(cls, path, *, device="auto", dtype="auto", **options) -> EmotionClassifier:
        """Load a checkpoint directory, Hub id or EmoVIT adapter (see :func:`emovit_model.model.load_model`)."""
        from emovit_model.model import load_model

        model, processor = load_model(path, device=device, dtype=dtype)
        return cls(model, processor, **options)

    def with_options(self, **changes) -> EmotionClassifier:
        """A classifier sharing this one's model, processor and scorer with other ``instruction``, ``labels``,
        ``batch_size``, ``answer_template``, ``clip_prompts`` or ``length_normalise`` (no reload)."""
        allowed = {"instruction", "labels", "batch_size", "answer_template", "clip_prompts", "length_normalise"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"with_options() cannot change {', '.join(sorted(unknown))}")
        other = copy.copy(self)
        for name, value in changes.items():
            setattr(other, name, tuple(value) if name in ("labels", "clip_prompts") else value)
        other.batch_size = max(1, int(other.batch_size))
        return other

    @property
    def family(self) -> str:
        """The model family scoring this model (``instructblip``, ``blip-2``, ``clip``, ``vlm``, ``openai``)."""
        return self.scorer.family

    @property
    def model_type(self) -> str:
        return self.model.config.model_type

    @property
    def device(self):
        return self.scorer.device

    def prompt(self, instruction: str | None = None) -> str:
        """The text given to the model before the answer, as the model's family builds it."""
        return self.scorer.prompt(self.instruction if instruction is None else instruction)

    def answer(self, label: str) -> str:
        """The candidate answer scored for ``label``."""
        return self.answer_template.format(label=label) if self.answer_template else categorical_answer(label)

    def candidates(self) -> Candidates:
        return Candidates(self.labels, tuple(self.answer(label) for label in self.labels), self.clip_prompts)

    def usage(self) -> dict | None:
        """Requests, tokens and cost so far for an API model; ``None`` for a local one."""
        return self.scorer.usage()

    # ------------------------------------------------------------------------------------------ batching
    def _instructions(self, images, instructions) -> list[str]:
        if instructions is None:
            return [self.instruction] * len(images)
        instructions = list(instructions)
        if len(instructions) != len(images):
            raise ValueError(f"{len(instructions)} instructions for {len(images)} images")
        return instructions

    def _batches(self, images, instructions=None):
        """``(images, instructions)`` batches. A local model gets loaded RGB images, ``batch_size`` at a time,
        in eval mode with gradients off and its autocast on; an API model gets every image at once, as given."""
        import torch

        from emovit_model.collators.instructblip import load_image

        images = list(images)
        instructions = self._instructions(images, instructions)
        if not self.scorer.local:
            if images:
                yield images, instructions
            return
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
        import torch

        candidates = self.candidates()
        results: list[dict[str, float]] = []
        for chunk, asked in self._batches(images, instructions):
            ranking = self.scorer.rank(chunk, asked, candidates)
            values = torch.as_tensor(ranking.scores)
            if self.length_normalise and ranking.counts is not None:
                values = values / torch.as_tensor(ranking.counts).clamp(min=1)
            values = values.reshape(len(chunk), len(self.labels)).double().cpu().tolist()
            results.extend({label: float(v) for label, v in zip(self.labels, row)} for row in values)
        return results

    def predict(self, images, instructions=None) -> list[str]:
        """The best-ranked label per image (ties go to the earlier label in :attr:`labels`)."""
        return [max(scores, key=scores.get) for scores in self.score(images, instructions)]

    # ------------------------------------------------------------------------------------------ generation
    def generate(self, images, *, instructions=None, max_new_tokens: int = 12) -> list[Generation]:
        """Greedy answers and their parsed labels.

        CLIP has no decoder: its answer is the best-ranked label written as the categorical answer
        (``Predict emotion: <label>``), so for CLIP generation equals ranking.
        """
        if not self.scorer.decodes:
            return [Generation(self.answer(label), label) for label in self.predict(images, instructions)]
        results: list[Generation] = []
        for chunk, asked in self._batches(images, instructions):
            for text in self.scorer.generate(chunk, asked, max_new_tokens):
                results.append(Generation(text, parse_emotion(text, self.labels)))
        return results


__all__ = ["CLIP_PROMPTS", "PARSE_RULES", "EmotionClassifier", "Generation", "ParsedAnswer", "autocast_for",
           "parse_answer", "parse_emotion", "vision_dtype"]
