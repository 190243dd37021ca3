"""The adapters that differ only in data, one row each: the family they score (:mod:`emovit_model.families`
gives its model types, default checkpoint and zoo stand-in), whether a model entry may train them, and whether
they take any checkpoint their family's scorer scores rather than the family's model types alone.

CLIP ignores the task's instruction; in ``generate`` mode its answer is its top-ranked label. The video-capable
families (Qwen-VL, InternVL, LLaVA-OneVision) load on machines without ``torchvision`` through their processor
less its video half (:mod:`emovit_model.processors`).
"""

from __future__ import annotations

from benchmarks.adapters.base import Adapter

INSTRUCTBLIP = Adapter("instructblip", "instructblip")
BLIP2 = Adapter("blip2", "blip2")
CLIP = Adapter("clip", "clip")
LLAVA = Adapter("llava", "llava")
LLAVA_FT = Adapter("llava-ft", "llava", trainable=True)
VLM = Adapter("vlm", "llava-next", any_model=True)
LLAVA_NEXT = Adapter("llava-next", "llava-next")
LLAVA_ONEVISION = Adapter("llava-onevision", "llava-onevision")
IDEFICS3 = Adapter("idefics3", "idefics3")
GEMMA3 = Adapter("gemma3", "gemma3")
QWEN2_VL = Adapter("qwen2-vl", "qwen2-vl")
QWEN2_5_VL = Adapter("qwen2.5-vl", "qwen2.5-vl")
QWEN3_VL = Adapter("qwen3-vl", "qwen3-vl")
INTERNVL = Adapter("internvl", "internvl")
