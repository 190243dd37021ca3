"""Tiny random checkpoints (InstructBLIP, BLIP-2, LLaVA, CLIP) for tests and the offline demo.

Each checkpoint is written with ``save_pretrained`` (model as safetensors, processor, tokenizer), so code
that loads a tiny model goes through the same ``from_pretrained(path)`` calls as a real checkpoint. The
weights are random; the tokenizer is trained offline (:mod:`emovit_model.tokenizer`). Same kind, seed and
spec: same files.

From Python::

    from emovit_model.zoo import build_tiny
    path = build_tiny("instructblip", "/tmp/tiny-instructblip", seed=0)

From the shell::

    emovit zoo --kind instructblip --out /tmp/tiny-instructblip
    emovit zoo --kind all --out /tmp/zoo          # one sub-folder per kind

Architectures mirror the real checkpoints: InstructBLIP = BLIP-2 ViT + Q-Former (instruction-aware) + Llama
(like ``Salesforce/instructblip-vicuna-7b``); BLIP-2 = ViT + Q-Former + OPT (like ``Salesforce/blip2-opt-2.7b``);
LLaVA = CLIP ViT + MLP projector + Llama (like ``llava-hf/llava-1.5-7b-hf``); CLIP = ViT + text transformer
(like ``openai/clip-vit-large-patch14``, the zero-shot image-text baseline). Vision towers use
``initializer_range=0.02``: the BLIP default (1e-10) would make every image look the same.

LLaVA fine-tuned on the instruction data (the benchmark's ``llava-ft``) needs no extra kind: it is the
``llava`` checkpoint plus a projector or LoRA adapter written by ``emovit train --base <llava>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.errors import UsageError

#: Kinds the zoo can build.
KINDS: tuple[str, ...] = ("instructblip", "blip2", "llava", "clip")
#: Mean/std used by BLIP-2/InstructBLIP and CLIP image processors (OpenAI CLIP statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: LLaVA-1.5's conversation layout, as a chat template.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %} "
    "{% else %}ASSISTANT: {% for part in message['content'] %}{{ part['text'] }}{% endfor %}</s>"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


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

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown zoo kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.image_size % self.patch_size:
            raise UsageError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.hidden_size % self.num_heads:
            raise UsageError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        for name in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_query_tokens"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1")


def _llama_config(spec: TinySpec, vocab_size: int):
    from transformers import LlamaConfig

    from emovit_model.tokenizer import BOS_ID, EOS_ID, PAD_ID

    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads, max_position_embeddings=spec.max_positions,
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID, tie_word_embeddings=False,
        initializer_range=spec.text_initializer_range,
    )


def _opt_config(spec: TinySpec, vocab_size: int):
    from transformers import OPTConfig

    from emovit_model.tokenizer import BOS_ID, EOS_ID, PAD_ID

    return OPTConfig(
        vocab_size=vocab_size, hidden_size=spec.hidden_size, ffn_dim=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        word_embed_proj_dim=spec.hidden_size, max_position_embeddings=spec.max_positions,
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID, dropout=0.0,
        init_std=spec.text_initializer_range,
    )


def _blip_parts(spec: TinySpec, vocab_size: int) -> dict:
    """Vision and Q-Former sub-configs shared by BLIP-2 and InstructBLIP (as plain dicts)."""
    from emovit_model.tokenizer import PAD_ID

    vision = {
        "hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads,
        "image_size": spec.image_size, "patch_size": spec.patch_size, "initializer_range": 0.02,
    }
    qformer = {
        "vocab_size": vocab_size, "hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads,
        "max_position_embeddings": spec.max_positions, "pad_token_id": PAD_ID, "cross_attention_frequency": 1,
        "hidden_dropout_prob": spec.qformer_dropout, "attention_probs_dropout_prob": spec.qformer_dropout,
    }
    return {"vision_config": vision, "qformer_config": qformer}


def _blip_image_processor(spec: TinySpec):
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    return BlipImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size}, image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD), do_convert_rgb=True,
    )


def _build_instructblip(spec: TinySpec):
    from transformers import InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipProcessor

    from emovit_model.tokenizer import IMAGE_ID, llm_tokenizer, qformer_tokenizer

    tokenizer = llm_tokenizer(spec.vocab_size, image_attribute=False)
    qformer_tok = qformer_tokenizer(spec.vocab_size)
    vocab = len(tokenizer)
    config = InstructBlipConfig(
        **_blip_parts(spec, vocab), text_config=_llama_config(spec, vocab).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=IMAGE_ID,
    )
    model = InstructBlipForConditionalGeneration(config)
    processor = InstructBlipProcessor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                                      qformer_tokenizer=qformer_tok, num_query_tokens=spec.num_query_tokens)
    return model, processor


def _build_blip2(spec: TinySpec):
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

    from emovit_model.tokenizer import IMAGE_ID, llm_tokenizer

    tokenizer = llm_tokenizer(spec.vocab_size, image_attribute=False)
    vocab = len(tokenizer)
    config = Blip2Config(
        **_blip_parts(spec, vocab), text_config=_opt_config(spec, vocab).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=IMAGE_ID,
    )
    model = Blip2ForConditionalGeneration(config)
    processor = Blip2Processor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                               num_query_tokens=spec.num_query_tokens)
    return model, processor


def _build_llava(spec: TinySpec):
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from emovit_model.tokenizer import IMAGE_ID, llm_tokenizer

    tokenizer = llm_tokenizer(spec.vocab_size)
    vocab = len(tokenizer)
    patches = (spec.image_size // spec.patch_size) ** 2
    vision = CLIPVisionConfig(
        hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        image_size=spec.image_size, patch_size=spec.patch_size, projection_dim=spec.hidden_size,
    )
    config = LlavaConfig(
        vision_config=vision.to_dict(), text_config=_llama_config(spec, vocab).to_dict(),
        image_token_index=IMAGE_ID, image_seq_length=patches, vision_feature_layer=-2,
        vision_feature_select_strategy="default", projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(config)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": spec.image_size}, crop_size={"height": spec.image_size, "width": spec.image_size},
        image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True,
    )
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=spec.patch_size,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=LLAVA_CHAT_TEMPLATE)
    return model, processor


def _build_clip(spec: TinySpec):
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTextConfig, CLIPVisionConfig
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from emovit_model.tokenizer import BOS_ID, PAD_ID, clip_tokenizer

    tokenizer = clip_tokenizer(spec.vocab_size)
    text = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads, max_position_embeddings=77,
        projection_dim=spec.hidden_size, bos_token_id=BOS_ID, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=PAD_ID,
    )
    vision = CLIPVisionConfig(
        hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        image_size=spec.image_size, patch_size=spec.patch_size, projection_dim=spec.hidden_size,
    )
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=spec.hidden_size)
    model = CLIPModel(config)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": spec.image_size}, crop_size={"height": spec.image_size, "width": spec.image_size},
        image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True,
    )
    return model, CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


_BUILDERS = {"instructblip": _build_instructblip, "blip2": _build_blip2, "llava": _build_llava, "clip": _build_clip}


def build_tiny_in_memory(spec: TinySpec):
    """``(model, processor)`` for ``spec``, random weights seeded by ``spec.seed``, model in eval mode."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model, processor = _BUILDERS[spec.kind](spec)
        query_tokens = getattr(model, "query_tokens", None)
        if query_tokens is not None:
            # transformers initialises them to zeros; BLIP-2 pre-training starts from N(0, 0.02), and a Q-Former
            # LayerNorm (eps 1e-12) over all-zero queries would give exploding gradients
            with torch.no_grad():
                query_tokens.normal_(0.0, 0.02)
    return model.eval(), processor


def build_tiny(kind: str, out: str | Path, *, seed: int = 0, **sizes) -> Path:
    """Write a tiny random ``kind`` checkpoint (model, processor, ``zoo_spec.json``) into ``out``.

    ``sizes`` override :class:`TinySpec` fields (``image_size``, ``hidden_size``, ``num_query_tokens`` ...).
    Returns ``out`` as a :class:`~pathlib.Path`; load it back with ``from_pretrained(out)`` or
    :func:`emovit_model.model.load_model`.
    """
    from schemas.runinfo import write_json

    spec = TinySpec(kind=kind, seed=seed, **sizes)
    model, processor = build_tiny_in_memory(spec)
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
    processor.save_pretrained(out)
    write_json(out / "zoo_spec.json", asdict(spec))
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--kind", required=True, choices=(*KINDS, "all"),
                        help="architecture to build; 'all' writes one sub-folder per kind under --out")
    parser.add_argument("--out", required=True, help="directory to write the checkpoint into")
    parser.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (default 0)")
    parser.add_argument("--image-size", type=int, default=TinySpec.image_size, help=f"input resolution in pixels (default {TinySpec.image_size})")
    parser.add_argument("--hidden-size", type=int, default=TinySpec.hidden_size,
                        help=f"width of every sub-model: vision, Q-Former, LLM (default {TinySpec.hidden_size})")
    parser.add_argument("--layers", type=int, default=TinySpec.num_layers, help=f"layers per sub-model (default {TinySpec.num_layers})")
    parser.add_argument("--query-tokens", type=int, default=TinySpec.num_query_tokens,
                        help=f"Q-Former query tokens, BLIP-2 / InstructBLIP (default {TinySpec.num_query_tokens})")


def run(args) -> int:
    sizes = {"image_size": args.image_size, "hidden_size": args.hidden_size,
             "intermediate_size": 2 * args.hidden_size, "num_layers": args.layers,
             "num_query_tokens": args.query_tokens}
    kinds = KINDS if args.kind == "all" else (args.kind,)
    for kind in kinds:
        out = Path(args.out) / kind if args.kind == "all" else Path(args.out)
        build_tiny(kind, out, seed=args.seed, **sizes)
        files = sorted(p.name for p in out.iterdir() if p.is_file())
        print(f"{kind} -> {out} (random weights, seed {args.seed}; {len(files)} files: {', '.join(files)})")
    return 0


__all__ = ["KINDS", "TinySpec", "build_tiny", "build_tiny_in_memory"]
