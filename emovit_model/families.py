"""The model families, one row each: what the toolkit knows about a family, in one place.

A row (:class:`Family`) names the family's scorer (a :class:`~emovit_model.scorers.base.Scorer` as a registry
target, ``package.module:Class``, imported on first use) and, beside it, the ``config.model_type`` values it
claims, the transformers class its checkpoints load with, its usual real checkpoint (the default of a benchmark
model entry that names none), its tiny zoo stand-in (:mod:`emovit_model.zoo`), the rule counting the tokens one
image puts in its prompt (:mod:`emovit_model.image_tokens`) and, for the families that train, the collator
(:mod:`emovit_model.collators`) and tunings (the first is the default).

A config belongs to the first row listing its ``model_type``, then to the first whose model class its
``architectures`` names; any other config that transformers maps to ``AutoModelForImageTextToText`` is a ``vlm``,
scored through its processor's chat template. Adding a family is one row here, plus its scorer module when none
of the scorers fits it (open_clip's table of pretrained models is the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emovit_model import image_tokens as tokens
from schemas.errors import UsageError
from schemas.registry import Entry, Registry


@dataclass(frozen=True)
class Family(Entry):
    """A model family: ``target`` is its scorer class, ``summary`` names its models.

    Args:
        model_types: the ``config.model_type`` values it claims.
        model_class: the transformers class its checkpoints load with (None: not a checkpoint, an API).
        checkpoint: its usual real checkpoint (a Hub id; an API model's name).
        zoo_kind: its tiny random stand-in (:mod:`emovit_model.zoo`); empty: none.
        image_tokens: the rule counting the tokens one image puts in its prompt (None: not a local model).
        collator: its training collator (``package.module:Class``); empty: it does not train.
        tunings: how it trains, the default first (``emovit train --tuning``).
        image_text_to_text: claims every model type transformers maps to ``AutoModelForImageTextToText`` that no
            row claims.
    """

    model_types: tuple[str, ...] = ()
    model_class: str | None = None
    checkpoint: str = ""
    zoo_kind: str = ""
    image_tokens: Callable | None = None
    collator: str = ""
    tunings: tuple[str, ...] = ()
    image_text_to_text: bool = False

    def collator_class(self):
        """The training collator class (imported now)."""
        return Entry(self.collator).load()


_INSTRUCTBLIP = "emovit_model.scorers.instructblip:InstructBlipScorer"
_BLIP2 = "emovit_model.scorers.blip2:Blip2Scorer"
_CLIP = "emovit_model.scorers.clip:ClipScorer"
_API = "emovit_model.scorers.api:ApiScorer"
#: The chat-template scorer: any ``AutoModelForImageTextToText`` checkpoint through its processor's template.
CHAT = "emovit_model.scorers.chat:ChatTemplateScorer"
_VLM = "AutoModelForImageTextToText"

FAMILIES = Registry("model family", {
    "instructblip": Family(
        _INSTRUCTBLIP, "InstructBLIP and EmoVIT", ("instructblip",), "InstructBlipForConditionalGeneration",
        "Salesforce/instructblip-vicuna-7b", "instructblip", tokens.query_tokens,
        "emovit_model.collators.instructblip:EmoVITCollator", ("qformer",)),
    "blip2": Family(_BLIP2, "BLIP-2", ("blip-2",), "Blip2ForConditionalGeneration", "Salesforce/blip2-opt-2.7b",
                    "blip2", tokens.query_tokens),
    "clip": Family(_CLIP, "CLIP", ("clip",), "CLIPModel", "openai/clip-vit-large-patch14", "clip", tokens.fixed),
    "llava": Family(CHAT, "LLaVA-1.5", ("llava",), _VLM, "llava-hf/llava-1.5-7b-hf", "llava", tokens.fixed,
                    "emovit_model.collators.llava:LlavaCollator", ("lora", "projector")),
    "llava-next": Family(CHAT, "LLaVA-NeXT", ("llava_next",), _VLM, "llava-hf/llava-v1.6-vicuna-7b-hf", "llava-next",
                         tokens.any_resolution),
    "llava-onevision": Family(CHAT, "LLaVA-OneVision", ("llava_onevision",), _VLM,
                              "llava-hf/llava-onevision-qwen2-7b-ov-hf", "llava-onevision", tokens.any_resolution),
    "idefics3": Family(CHAT, "Idefics3 / SmolVLM", ("idefics3", "smolvlm"), _VLM, "HuggingFaceTB/SmolVLM-Instruct",
                       "idefics3", tokens.idefics3_tiles),
    "gemma3": Family(CHAT, "Gemma 3", ("gemma3",), _VLM, "google/gemma-3-4b-it", "gemma3", tokens.fixed),
    "qwen2-vl": Family(CHAT, "Qwen2-VL", ("qwen2_vl",), _VLM, "Qwen/Qwen2-VL-7B-Instruct", "qwen2-vl",
                       tokens.merged_patches),
    "qwen2.5-vl": Family(CHAT, "Qwen2.5-VL", ("qwen2_5_vl",), _VLM, "Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl",
                         tokens.merged_patches),
    "qwen3-vl": Family(CHAT, "Qwen3-VL (Instruct or Thinking)", ("qwen3_vl", "qwen3_vl_moe"), _VLM,
                       "Qwen/Qwen3-VL-8B-Instruct", "qwen3-vl", tokens.merged_patches),
    "internvl": Family(CHAT, "InternVL (transformers' -hf checkpoints)", ("internvl",), _VLM,
                       "OpenGVLab/InternVL3-8B-hf", "internvl", tokens.internvl_tiles),
    "openai": Family(_API, "an OpenAI-compatible chat endpoint", ("openai-chat",), None, "gpt-4o-mini"),
    "vlm": Family(CHAT, "any other image-text-to-text checkpoint with a chat template", (), _VLM,
                  image_tokens=tokens.any_model, image_text_to_text=True),
})


def _image_text_to_text() -> dict[str, str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return dict(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)


def family_name(config) -> str:
    """The family a model config belongs to (``model_type`` first, then ``architectures``)."""
    model_type = getattr(config, "model_type", None)
    for name, family in FAMILIES.items():
        if model_type in family.model_types:
            return name
    architectures = set(getattr(config, "architectures", None) or ())
    for name, family in FAMILIES.items():
        if family.model_class in architectures:
            return name
    mapped = _image_text_to_text()
    if model_type in mapped or architectures & set(mapped.values()):
        return next(name for name, family in FAMILIES.items() if family.image_text_to_text)
    raise UsageError(f"no scorer for model type {model_type!r}: supported are "
                     f"{', '.join(t for f in FAMILIES.values() if f.target != CHAT for t in f.model_types)} and any "
                     "image-text-to-text checkpoint with a chat template")


def family_for(config) -> Family:
    """The row of a model config's family."""
    return FAMILIES[family_name(config)]


def family_of_type(model_type: str) -> Family | None:
    """The row claiming ``model_type`` (None when no row names it)."""
    return next((family for family in FAMILIES.values() if model_type in family.model_types), None)


__all__ = ["CHAT", "FAMILIES", "Family", "family_for", "family_name", "family_of_type"]
