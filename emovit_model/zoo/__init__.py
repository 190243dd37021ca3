"""Tiny random checkpoints of every model family the toolkit scores, for tests and the demo: the EmoVIT paper's
InstructBLIP, BLIP-2, LLaVA, LLaVA-NeXT, Idefics3 and CLIP (:mod:`.classic`), and the 2025-2026 reference families
Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Gemma 3, InternVL and LLaVA-OneVision (:mod:`.recent`).

Each checkpoint is written with ``save_pretrained`` (model as safetensors, processor, tokenizer, chat
template), so code that loads a tiny model goes through the same ``from_pretrained(path)`` calls as a real
checkpoint. The weights are random; the tokenizers are trained offline (:mod:`.tokenizer`) and of the kinds the
real checkpoints use, and the chat templates are the real checkpoints' (:mod:`.chat_templates`). Same kind, seed
and spec: same files.

From Python::

    from emovit_model.zoo import build_tiny
    path = build_tiny("instructblip", "/tmp/tiny-instructblip", seed=0)

From the shell (:mod:`.cli`)::

    emovit zoo --kind instructblip --out /tmp/tiny-instructblip
    emovit zoo --kind all --out /tmp/zoo          # one sub-folder per kind

A kind is one line of :data:`BUILDERS` (its builder, imported when used) and is named in its family's row of
:mod:`emovit_model.families`. The 2025-2026 families always build with their real tokenizer kind (``tokenizer``
``real`` or ``bytelevel`` alike; a tokenizer folder is for the six first kinds) and are written in their Hub
folder layout. LLaVA fine-tuned on the instruction data (the benchmark's ``llava-ft``) needs no extra kind: it is
the ``llava`` checkpoint plus a projector or LoRA adapter written by ``emovit train --base <llava>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.errors import UsageError
from schemas.registry import Entry, Registry

#: The kinds the zoo builds: the EmoVIT paper's, then the 2025-2026 reference families.
BUILDERS = Registry("zoo kind", {
    "instructblip": Entry("emovit_model.zoo.classic:build_instructblip", "BLIP-2 ViT + Q-Former + Llama"),
    "blip2": Entry("emovit_model.zoo.classic:build_blip2", "BLIP-2 ViT + Q-Former + OPT"),
    "llava": Entry("emovit_model.zoo.classic:build_llava", "CLIP ViT + MLP projector + Llama"),
    "llava-next": Entry("emovit_model.zoo.classic:build_llava_next", "LLaVA with any-resolution tiling"),
    "idefics3": Entry("emovit_model.zoo.classic:build_idefics3", "SigLIP-style ViT + pixel shuffle + Llama 3"),
    "clip": Entry("emovit_model.zoo.classic:build_clip", "CLIP ViT + text transformer"),
    "qwen2-vl": Entry("emovit_model.zoo.recent:build_qwen2_vl", "ViT with 2-D rotary positions + Qwen2 with M-RoPE"),
    "qwen2.5-vl": Entry("emovit_model.zoo.recent:build_qwen2_5_vl", "windowed-attention ViT + Qwen2 with M-RoPE"),
    "qwen3-vl": Entry("emovit_model.zoo.recent:build_qwen3_vl", "ViT with DeepStack features + Qwen3"),
    "gemma3": Entry("emovit_model.zoo.recent:build_gemma3", "SigLIP ViT, pooled soft tokens + Gemma 3"),
    "internvl": Entry("emovit_model.zoo.recent:build_internvl", "InternViT tiles + pixel shuffle + Qwen2.5"),
    "llava-onevision": Entry("emovit_model.zoo.recent:build_llava_onevision", "SigLIP ViT any-resolution + Qwen2"),
})
KINDS: tuple[str, ...] = tuple(BUILDERS)
#: Kinds that build around a tokenizer folder (``--tokenizer DIR``); the others always use their real kind.
USER_TOKENIZER_KINDS: tuple[str, ...] = ("instructblip", "blip2", "llava", "llava-next", "idefics3", "clip")
#: Tokenizer choices besides a directory: the real checkpoints' kinds, or the zoo's first byte-level ones.
TOKENIZERS: tuple[str, ...] = ("real", "bytelevel")


@dataclass(frozen=True)
class TinySpec:
    """Sizes of a tiny checkpoint. The defaults build in about a second and train fast on a CPU."""

    kind: str = "instructblip"
    seed: int = 0
    image_size: int = 32
    patch_size: int = 8
    hidden_size: int = 64
    intermediate_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_query_tokens: int = 32
    vocab_size: int = 1024
    max_positions: int = 512
    #: Init scale of the LLM. At transformers' 0.02 a tiny random LLM attends uniformly and its logits are
    #: flat, so nothing fed through the Q-Former can move its output; 0.2 makes the frozen random LLM respond
    #: to its (soft-prompt) inputs the way a pretrained one does, which is what the learning check needs.
    text_initializer_range: float = 0.2
    #: Q-Former dropout (the released InstructBLIP uses 0.1); 0 keeps tiny forwards deterministic and fast.
    qformer_dropout: float = 0.0
    #: ``real`` (the kinds the real checkpoints use), ``bytelevel`` (the zoo's first tokenizers) or a
    #: directory holding a tokenizer (``tokenizer.json`` + ``tokenizer_config.json``).
    tokenizer: str = "real"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown zoo kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.tokenizer not in TOKENIZERS and self.kind not in USER_TOKENIZER_KINDS:
            raise UsageError(f"zoo kind {self.kind} builds with its real tokenizer kind only; --tokenizer DIR works "
                             f"for {', '.join(USER_TOKENIZER_KINDS)}")
        if self.tokenizer not in TOKENIZERS:
            folder = Path(self.tokenizer)
            for name in ("tokenizer.json", "tokenizer_config.json"):
                if not (folder / name).is_file():
                    raise UsageError(f"{folder / name}: not found; --tokenizer takes {' or '.join(TOKENIZERS)} or a "
                                     "folder holding tokenizer.json and tokenizer_config.json")
        if self.image_size % self.patch_size:
            raise UsageError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.hidden_size % self.num_heads:
            raise UsageError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        for name in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_query_tokens"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1")


@dataclass
class Built:
    """A tiny family checkpoint in memory: the model, the processor to score it with, and the processor class the
    Hub folder names (``None`` when the processor is that class and saves itself)."""

    model: object
    processor: object
    processor_class: str | None = None


def _build(spec: TinySpec):
    """``(model, processor, processor class the Hub folder names or None)``, random weights seeded by ``spec.seed``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        built = BUILDERS.load(spec.kind)(spec)
        model, processor, named = built.model, built.processor, built.processor_class
        query_tokens = getattr(model, "query_tokens", None)
        if query_tokens is not None:
            # transformers initialises them to zeros; BLIP-2 pre-training starts from N(0, 0.02), and a Q-Former
            # LayerNorm (eps 1e-12) over all-zero queries would give exploding gradients
            with torch.no_grad():
                query_tokens.normal_(0.0, 0.02)
    return model.eval(), processor, named


def build_tiny_in_memory(spec: TinySpec):
    """``(model, processor)`` for ``spec``, random weights seeded by ``spec.seed``, model in eval mode (for a
    video-capable family, the processor without its video half)."""
    model, processor, _ = _build(spec)
    return model, processor


def build_tiny(kind: str, out: str | Path, *, seed: int = 0, **sizes) -> Path:
    """Write a tiny random ``kind`` checkpoint (model, processor, ``zoo_spec.json``) into ``out``.

    ``sizes`` override :class:`TinySpec` fields (``image_size``, ``hidden_size``, ``num_query_tokens`` ...).
    Returns ``out`` as a :class:`~pathlib.Path`; load it back with ``from_pretrained(out)`` or
    :func:`emovit_model.model.load_model`.
    """
    from schemas.runinfo import write_json

    spec = TinySpec(kind=kind, seed=seed, **sizes)
    model, processor, named = _build(spec)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a one-shard "Writing model shards" bar per tiny model is only noise
    try:
        model.save_pretrained(out)
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    if named:  # a video-capable family: its Hub layout, naming the real processor class
        save_hub_layout(Built(model, processor, named), out)
    else:
        processor.save_pretrained(out)
    write_json(out / "zoo_spec.json", asdict(spec))
    return out


def save_hub_layout(built: Built, out: Path) -> None:
    """Write the processor of a video-capable family as its Hub folder holds it, naming the real processor class:
    ``preprocessor_config.json`` (the image processor), ``processor_config.json`` (the processor's own settings),
    the tokenizer files and ``chat_template.jinja``."""
    import json

    processor = built.processor
    processor.image_processor.save_pretrained(out)
    processor.tokenizer.save_pretrained(out)
    (out / "chat_template.jinja").write_text(processor.chat_template, encoding="utf-8")
    image_config = out / "preprocessor_config.json"
    document = json.loads(image_config.read_text(encoding="utf-8"))
    document["processor_class"] = built.processor_class
    image_config.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    import inspect

    import transformers

    own = inspect.signature(getattr(transformers, built.processor_class).__init__).parameters
    settings = {name: processor.__dict__[name] for name in own if name in processor.__dict__
                and name not in ("image_processor", "tokenizer", "video_processor", "chat_template")}
    (out / "processor_config.json").write_text(
        json.dumps({**settings, "processor_class": built.processor_class}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8")


__all__ = ["BUILDERS", "KINDS", "TOKENIZERS", "USER_TOKENIZER_KINDS", "Built", "TinySpec", "build_tiny",
           "build_tiny_in_memory"]
