"""BLIP-2 (ViT + Q-Former + OPT/Flan-T5 decoder), zero-shot with its VQA prompt ``Question: ... Answer:``."""

from __future__ import annotations

from emovit_model.scorers.lm import ProcessorScorer

#: The prompt BLIP-2's authors use for zero-shot visual question answering.
BLIP2_PROMPT = "Question: {instruction} Answer:"


class Blip2Scorer(ProcessorScorer):
    """Rank and generate with ``Blip2ForConditionalGeneration``; ``prompt_template`` replaces the VQA prompt."""

    family = "blip-2"

    def prompt(self, instruction: str) -> str:
        return (self.options.prompt_template or BLIP2_PROMPT).format(instruction=self.text(instruction))

    @property
    def continuation_model(self):
        return self.model.language_model

    def prefix_cache(self, out):
        past = getattr(out, "past_key_values", None)
        return past if past is not None else out.language_model_outputs.past_key_values
