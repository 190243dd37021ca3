"""Model adapters, registered by name and imported only when used.

Every adapter wraps :class:`emovit_model.scoring.EmotionClassifier` (one scoring path for ranking and
generation, a scorer per model family); an adapter only knows how its models are found, loaded, checked and
(for ``emovit`` and ``llava-ft``) trained. ``get_adapter("llava")`` imports :mod:`benchmarks.adapters.llava` on
first use.

=============== ================================================================== =================================
name            model                                                              real checkpoint (default)
=============== ================================================================== =================================
emovit          InstructBLIP + a trained EmoVIT adapter (or a LAVIS EmoVIT .pth)   Salesforce/instructblip-vicuna-7b
instructblip    InstructBLIP, zero-shot                                            Salesforce/instructblip-vicuna-7b
blip2           BLIP-2, zero-shot (``Question: ... Answer:``)                      Salesforce/blip2-opt-2.7b
llava           LLaVA-1.5, zero-shot, its chat template                            llava-hf/llava-1.5-7b-hf
llava-ft        LLaVA-1.5 + a projector/LoRA adapter trained on the instruction data llava-hf/llava-1.5-7b-hf
vlm             any chat-template VLM (``AutoModelForImageTextToText``), zero-shot llava-hf/llava-v1.6-vicuna-7b-hf
llava-next ...  ``vlm`` aliases that check the family: llava-next, llava-onevision, idefics3, gemma3, qwen2-vl,
                qwen2.5-vl, qwen3-vl, internvl (:mod:`benchmarks.adapters.vlm`)
openai          an OpenAI-compatible chat endpoint taking images                   gpt-4o-mini
clip            CLIP zero-shot, prompt-ensembled label embeddings                  openai/clip-vit-large-patch14
=============== ================================================================== =================================
"""

from __future__ import annotations

import importlib

from schemas.errors import UsageError

#: adapter name -> (module, attribute)
REGISTRY: dict[str, tuple[str, str]] = {
    "emovit": ("benchmarks.adapters.instructblip", "EMOVIT"),
    "instructblip": ("benchmarks.adapters.instructblip", "INSTRUCTBLIP"),
    "blip2": ("benchmarks.adapters.instructblip", "BLIP2"),
    "llava": ("benchmarks.adapters.llava", "LLAVA"),
    "llava-ft": ("benchmarks.adapters.llava", "LLAVA_FT"),
    "vlm": ("benchmarks.adapters.vlm", "VLM"),
    "llava-next": ("benchmarks.adapters.vlm", "LLAVA_NEXT"),
    "llava-onevision": ("benchmarks.adapters.vlm", "LLAVA_ONEVISION"),
    "idefics3": ("benchmarks.adapters.vlm", "IDEFICS3"),
    "gemma3": ("benchmarks.adapters.vlm", "GEMMA3"),
    "qwen2-vl": ("benchmarks.adapters.vlm", "QWEN2_VL"),
    "qwen2.5-vl": ("benchmarks.adapters.vlm", "QWEN2_5_VL"),
    "qwen3-vl": ("benchmarks.adapters.vlm", "QWEN3_VL"),
    "internvl": ("benchmarks.adapters.vlm", "INTERNVL"),
    "openai": ("benchmarks.adapters.api", "OPENAI"),
    "clip": ("benchmarks.adapters.clip", "CLIP"),
}


def adapter_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_adapter(name: str):
    """The adapter registered as ``name`` (its module is imported now)."""
    if name not in REGISTRY:
        raise UsageError(f"unknown adapter {name!r}; choose one of {', '.join(REGISTRY)}")
    module, attribute = REGISTRY[name]
    return getattr(importlib.import_module(module), attribute)


__all__ = ["REGISTRY", "adapter_names", "get_adapter"]
