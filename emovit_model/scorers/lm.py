"""Scoring a vision-language model through its own processor: the part BLIP-2 and chat-template models share.

The processor turns images and prompt strings into model inputs (image placeholders expanded to as many
image tokens as the model needs, which may differ per image); prompts are padded on the left so the answer
tokens of every row follow in the same columns. A candidate answer's tokens are the tail of the prompt and
the answer tokenised together (:meth:`ProcessorScorer.answer_ids`), which is what the model would have seen
had it written the answer itself.
"""

from __future__ import annotations

from emovit_model.scorers.base import (
    Candidates,
    Ranking,
    Scorer,
    decode_new,
    extend,
    positions,
    score_candidates,
    shared_start,
    vision_dtype,
)


class ProcessorScorer(Scorer):
    """Rank and generate with a model whose processor takes ``images=`` and ``text=`` prompts.

    Subclasses give :meth:`prompt`; they may change how an answer continues a prompt
    (:meth:`continuation`), whether the tokenizer adds its special tokens (:meth:`adds_special_tokens`), where
    the prompt's cache lives (:meth:`prefix_cache`) and which module scores the answer tails
    (:attr:`continuation_model`).
    """

    def __init__(self, model, processor, options=None) -> None:
        super().__init__(model, processor, options)
        self._answers: dict[tuple[str, tuple[str, ...]], list[list[int]]] = {}

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def pad_id(self) -> int:
        tokenizer = self.tokenizer
        return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    @property
    def continuation_model(self):
        """The module that scores answer tails on the prompt's cache (input ids only, no pixels)."""
        return self.model

    def continuation(self, prompt: str, answer: str) -> str:
        """The text that follows ``prompt`` when the model gives ``answer``, end-of-answer token included."""
        return f" {answer}{self.tokenizer.eos_token or ''}"

    def adds_special_tokens(self, prompt: str) -> bool:
        """Whether the tokenizer adds its special tokens (BOS) to ``prompt`` (not when the prompt has them)."""
        bos = self.tokenizer.bos_token
        return not (bos and prompt.startswith(bos))

    def prefix_cache(self, out):
        return out.past_key_values

    def prefix_positions(self, inputs: dict):
        """``(position ids of the prompt pass, each row's next position [rows, 1])``: 0 at each left-padded row's
        first token, counting up."""
        mask = inputs["attention_mask"]
        return positions(mask), mask.sum(1, keepdim=True)

    def answer_ids(self, prompt: str, answers: tuple[str, ...]) -> list[list[int]]:
        """Token ids of each candidate answer as it follows ``prompt``: the tail of prompt and answer
        tokenised together (cached per prompt and candidate set)."""
        key = (prompt, tuple(answers))
        if key not in self._answers:
            special = self.adds_special_tokens(prompt)
            head = self.tokenizer(prompt, add_special_tokens=special)["input_ids"]
            tails = []
            for answer in answers:
                full = self.tokenizer(prompt + self.continuation(prompt, answer),
                                      add_special_tokens=special)["input_ids"]
                if full[: len(head)] != head or len(full) == len(head):
                    raise RuntimeError("prompt tokens change when the answer is appended; cannot rank by likelihood")
                tails.append(full[len(head):])
            self._answers[key] = tails
        return self._answers[key]

    def image_batch(self, images) -> list:
        """The images as the processor takes them: a flat list, one image per prompt."""
        return list(images)

    def inputs(self, images, prompts: list[str]) -> dict:
        """Processor outputs for ``prompts`` (padded on the left), on the model's device."""
        tokenizer = self.tokenizer
        special = {self.adds_special_tokens(p) for p in prompts}
        options = {} if special == {True} else {"add_special_tokens": special == {True}}
        if len(special) > 1:
            raise RuntimeError("some prompts start with the BOS token and others do not")
        side, tokenizer.padding_side = tokenizer.padding_side, "left"
        try:
            inputs = dict(self.processor(images=self.image_batch(images), text=prompts, return_tensors="pt",
                                         padding=True, **options))
        finally:
            tokenizer.padding_side = side
        return inputs

    def _on_device(self, inputs: dict) -> dict:
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(self.model))
        return inputs

    def rank(self, images, instructions, candidates: Candidates) -> Ranking:
        prompts = [self.prompt(instruction) for instruction in instructions]
        answers = [self.answer_ids(p, candidates.answers) for p in prompts]
        shared = shared_start(answers)
        inputs = self._on_device(extend(self.inputs(images, prompts), shared))
        mask = inputs["attention_mask"]
        position_ids, start = self.prefix_positions(inputs)
        out = self.model(**inputs, position_ids=position_ids, use_cache=True, logits_to_keep=len(shared) + 1)
        tails = [[a[len(shared):] for a in per_image] for per_image in answers]
        totals, counts = score_candidates(out.logits, shared, self.prefix_cache(out), mask, tails,
                                          self.continuation_model, self.pad_id, start_positions=start)
        return Ranking(totals, counts)

    def generation_inputs(self, images, instructions) -> dict:
        """What ``model.generate`` gets for these images and instructions."""
        return self._on_device(self.inputs(images, [self.prompt(i) for i in instructions]))

    def generate(self, images, instructions, max_new_tokens: int) -> list[str]:
        inputs = self.generation_inputs(images, instructions)
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=self.tokenizer.pad_token_id)
        return decode_new(self.tokenizer, out, inputs["input_ids"])
