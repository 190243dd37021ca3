"""Chat-template vision-language models: ``vlm`` takes any image-text-to-text checkpoint whose processor carries
a chat template (scored with that template, :mod:`emovit_model.scorers.chat`); the family names are aliases that
also check the checkpoint's ``model_type`` and give the family's usual checkpoint as the default.

Every alias has a tiny zoo stand-in, so each family is scored offline by the tests and ``size=tiny`` runs. The
video-capable families (Qwen-VL, InternVL, LLaVA-OneVision) load on machines without ``torchvision`` through
their processor less its video half (:mod:`emovit_model.processors`)."""

from __future__ import annotations

from benchmarks.adapters.base import Adapter


def _vlm(name: str, description: str, checkpoint: str, model_types: tuple[str, ...] = (), zoo_kind: str = "") -> Adapter:
    return Adapter(name=name, description=description, model_types=model_types, checkpoint=checkpoint,
                   zoo_kind=zoo_kind, families=("vlm",))


VLM = _vlm("vlm", "any chat-template VLM (AutoModelForImageTextToText), zero-shot",
           "llava-hf/llava-v1.6-vicuna-7b-hf", zoo_kind="llava-next")
LLAVA_NEXT = _vlm("llava-next", "LLaVA-NeXT (any-resolution tiling), zero-shot", "llava-hf/llava-v1.6-vicuna-7b-hf",
                  ("llava_next",), "llava-next")
LLAVA_ONEVISION = _vlm("llava-onevision", "LLaVA-OneVision, zero-shot", "llava-hf/llava-onevision-qwen2-7b-ov-hf",
                       ("llava_onevision",), "llava-onevision")
IDEFICS3 = _vlm("idefics3", "Idefics3 / SmolVLM, zero-shot", "HuggingFaceTB/SmolVLM-Instruct",
                ("idefics3", "smolvlm"), "idefics3")
GEMMA3 = _vlm("gemma3", "Gemma 3, zero-shot", "google/gemma-3-4b-it", ("gemma3",), "gemma3")
QWEN2_VL = _vlm("qwen2-vl", "Qwen2-VL, zero-shot", "Qwen/Qwen2-VL-7B-Instruct", ("qwen2_vl",), "qwen2-vl")
QWEN2_5_VL = _vlm("qwen2.5-vl", "Qwen2.5-VL, zero-shot", "Qwen/Qwen2.5-VL-7B-Instruct", ("qwen2_5_vl",), "qwen2.5-vl")
QWEN3_VL = _vlm("qwen3-vl", "Qwen3-VL (Instruct or Thinking), zero-shot", "Qwen/Qwen3-VL-8B-Instruct",
                ("qwen3_vl", "qwen3_vl_moe"), "qwen3-vl")
INTERNVL = _vlm("internvl", "InternVL (transformers' -hf checkpoints), zero-shot", "OpenGVLab/InternVL3-8B-hf",
                ("internvl",), "internvl")
