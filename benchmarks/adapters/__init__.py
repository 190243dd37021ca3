"""Model adapters, registered by name and imported only when used (``ADAPTERS.load("llava")``).

Every adapter wraps :class:`emovit_model.scoring.EmotionClassifier` (one scoring path for ranking and
generation, a scorer per model family); an adapter only knows how its models are found, loaded, checked and
(for ``emovit`` and ``llava-ft``) trained. What it knows of its models (the model types it accepts, its default
real checkpoint, its tiny zoo stand-in, how it trains) is its family's row in :mod:`emovit_model.families`.

Adapters that differ only in data are rows of :mod:`.presets`; behaviour has its own module where it differs:
:mod:`.emovit` (EmoVIT's LAVIS ``.pth`` import) and :mod:`.api` (an endpoint's cost tracking). The ``vlm``
aliases (``llava-next`` ... ``internvl``) also check the checkpoint's ``model_type`` and give the family's usual
checkpoint as the default; ``emovit bench list`` prints the table with its defaults.
"""

from __future__ import annotations

from schemas.registry import Entry, Registry

ADAPTERS = Registry("adapter", {
    "emovit": Entry("benchmarks.adapters.emovit:EMOVIT", "InstructBLIP + trained EmoVIT Q-Former adapter"),
    "instructblip": Entry("benchmarks.adapters.presets:INSTRUCTBLIP", "InstructBLIP, zero-shot"),
    "blip2": Entry("benchmarks.adapters.presets:BLIP2", "BLIP-2, zero-shot"),
    "llava": Entry("benchmarks.adapters.presets:LLAVA", "LLaVA-1.5, zero-shot (its chat template)"),
    "llava-ft": Entry("benchmarks.adapters.presets:LLAVA_FT",
                      "LLaVA-1.5 fine-tuned on the instruction data (LoRA + projector, or projector)"),
    "vlm": Entry("benchmarks.adapters.presets:VLM", "any chat-template VLM (AutoModelForImageTextToText), zero-shot"),
    "llava-next": Entry("benchmarks.adapters.presets:LLAVA_NEXT", "LLaVA-NeXT (any-resolution tiling), zero-shot"),
    "llava-onevision": Entry("benchmarks.adapters.presets:LLAVA_ONEVISION", "LLaVA-OneVision, zero-shot"),
    "idefics3": Entry("benchmarks.adapters.presets:IDEFICS3", "Idefics3 / SmolVLM, zero-shot"),
    "gemma3": Entry("benchmarks.adapters.presets:GEMMA3", "Gemma 3, zero-shot"),
    "qwen2-vl": Entry("benchmarks.adapters.presets:QWEN2_VL", "Qwen2-VL, zero-shot"),
    "qwen2.5-vl": Entry("benchmarks.adapters.presets:QWEN2_5_VL", "Qwen2.5-VL, zero-shot"),
    "qwen3-vl": Entry("benchmarks.adapters.presets:QWEN3_VL", "Qwen3-VL (Instruct or Thinking), zero-shot"),
    "internvl": Entry("benchmarks.adapters.presets:INTERNVL", "InternVL (transformers' -hf checkpoints), zero-shot"),
    "openai": Entry("benchmarks.adapters.api:OPENAI",
                    "an OpenAI-compatible chat endpoint taking images (GPT-4o, vLLM, SGLang, Ollama)"),
    "clip": Entry("benchmarks.adapters.presets:CLIP", "CLIP zero-shot (image-text similarity)"),
})

__all__ = ["ADAPTERS"]
