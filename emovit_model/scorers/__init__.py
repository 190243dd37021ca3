"""One scorer per model family, picked by the checkpoint's config.

=========== ========================================================== ==================================
family      models                                                     scorer module
=========== ========================================================== ==================================
instructblip InstructBLIP and EmoVIT (``model_type`` instructblip)      :mod:`.instructblip`
blip-2      BLIP-2 (``blip-2``), VQA prompt ``Question: ... Answer:``  :mod:`.blip2`
clip        CLIP (``clip``), prompt-ensembled image-text similarity    :mod:`.clip`
openai      an OpenAI-compatible chat endpoint (:class:`.api.ApiModel`) :mod:`.api`
vlm         any other ``AutoModelForImageTextToText`` checkpoint, via    :mod:`.chat`
            its processor's chat template (LLaVA, LLaVA-NeXT, Idefics3,
            Gemma 3, Qwen2-VL ...)
=========== ========================================================== ==================================

A config matches the first family listing its ``model_type``, then the first whose model class its
``architectures`` names; any other config that transformers maps to ``AutoModelForImageTextToText`` is a
``vlm``. Adding a family is one scorer module (a :class:`~emovit_model.scorers.base.Scorer` subclass) and
one :data:`FAMILIES` line. Scorer modules are imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from schemas.errors import UsageError


@dataclass(frozen=True)
class Family:
    """A model family: its scorer (``module:Class``), the transformers class its checkpoints load with, and the
    ``config.model_type`` values it claims. ``image_text_to_text`` claims every model type transformers maps
    to ``AutoModelForImageTextToText`` that no earlier family claimed."""

    name: str
    scorer: str
    model_class: str | None
    model_types: tuple[str, ...] = ()
    image_text_to_text: bool = False

    def scorer_class(self):
        module, _, name = self.scorer.partition(":")
        return getattr(importlib.import_module(module), name)


FAMILIES: tuple[Family, ...] = (
    Family("instructblip", "emovit_model.scorers.instructblip:InstructBlipScorer",
           "InstructBlipForConditionalGeneration", ("instructblip",)),
    Family("blip-2", "emovit_model.scorers.blip2:Blip2Scorer", "Blip2ForConditionalGeneration", ("blip-2",)),
    Family("clip", "emovit_model.scorers.clip:ClipScorer", "CLIPModel", ("clip",)),
    Family("openai", "emovit_model.scorers.api:ApiScorer", None, ("openai-chat",)),
    Family("vlm", "emovit_model.scorers.chat:ChatTemplateScorer", "AutoModelForImageTextToText",
           image_text_to_text=True),
)


def _image_text_to_text() -> dict[str, str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return dict(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)


def family_for(config) -> Family:
    """The family of a model config (``model_type`` first, then ``architectures``)."""
    model_type = getattr(config, "model_type", None)
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    architectures = set(getattr(config, "architectures", None) or ())
    for family in FAMILIES:
        if family.model_class in architectures:
            return family
    mapped = _image_text_to_text()
    if model_type in mapped or architectures & set(mapped.values()):
        return next(family for family in FAMILIES if family.image_text_to_text)
    raise UsageError(f"no scorer for model type {model_type!r}: supported are "
                     f"{', '.join(t for f in FAMILIES for t in f.model_types)} and any image-text-to-text "
                     "checkpoint with a chat template")


def scorer_for(model, processor, options=None):
    """A scorer of the right family for a loaded ``model`` (and its processor)."""
    return family_for(model.config).scorer_class()(model, processor, options)


__all__ = ["FAMILIES", "Family", "family_for", "scorer_for"]
