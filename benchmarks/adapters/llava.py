"""LLaVA adapters: ``llava`` (LLaVA-1.5 zero-shot, through its chat template ``USER: <image>\\n... ASSISTANT:``)
and ``llava-ft`` (LLaVA-1.5 with a projector or LoRA adapter trained on the same instruction data by
``emovit train``)."""

from __future__ import annotations

from benchmarks.adapters.base import Adapter

LLAVA = Adapter(
    name="llava", description="LLaVA-1.5, zero-shot (its chat template)", model_types=("llava",),
    checkpoint="llava-hf/llava-1.5-7b-hf", zoo_kind="llava",
)
LLAVA_FT = Adapter(
    name="llava-ft", description="LLaVA-1.5 fine-tuned on the instruction data (LoRA + projector, or projector)",
    model_types=("llava",), checkpoint="llava-hf/llava-1.5-7b-hf", zoo_kind="llava",
    trainable=True, train_defaults={"tuning": "lora"},
)
