"""One scorer per way of scoring a model: :mod:`.instructblip` (InstructBLIP and EmoVIT), :mod:`.blip2` (the VQA
prompt ``Question: ... Answer:``), :mod:`.clip` (prompt-ensembled image-text similarity), :mod:`.chat` (any
``AutoModelForImageTextToText`` checkpoint through its processor's chat template: LLaVA, LLaVA-NeXT, Idefics3,
Gemma 3, Qwen2-VL ...) and :mod:`.api` (an OpenAI-compatible chat endpoint, :class:`.api.ApiModel`).

Which one scores a model is its family's row in :mod:`emovit_model.families`, picked by the checkpoint's config.
Scorer modules are imported only when used.
"""

from __future__ import annotations

from emovit_model.families import family_for


def scorer_for(model, processor, options=None):
    """A scorer of the right family for a loaded ``model`` (and its processor)."""
    return family_for(model.config).load()(model, processor, options)


__all__ = ["scorer_for"]
