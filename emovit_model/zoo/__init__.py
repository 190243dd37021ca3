"""Tiny random checkpoints (InstructBLIP, BLIP-2, LLaVA, LLaVA-NeXT, Idefics3, CLIP, and the 2025-2026 reference
families Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Gemma 3, InternVL, LLaVA-OneVision from :mod:`emovit_model.zoo_families`)
for tests and the demo.

Each checkpoint is written with ``save_pretrained`` (model as safetensors, processor, tokenizer, chat
template), so code that loads a tiny model goes through the same ``from_pretrained(path)`` calls as a real
checkpoint. The weights are random; the tokenizers are trained offline (:mod:`emovit_model.tokenizer`) and of
the kinds the real checkpoints use: SentencePiece Llama tokenizers for InstructBLIP's Vicuna and the LLaVAs
(with the tokens their checkpoints add: ``<image>``, a pad token), BERT WordPiece for the Q-Former, GPT-2-style
byte-level BPE for BLIP-2's OPT, CLIP and Idefics3's Llama 3. ``tokenizer="bytelevel"`` builds the zoo's first,
all byte-level tokenizers instead (same weights as before for the four original kinds), and a directory builds
the model around a tokenizer the user has (``tokenizer.json`` + ``tokenizer_config.json``; the embeddings
grow to its vocabulary plus the special tokens the real checkpoint adds). Same kind, seed and spec: same files.

From Python::

    from emovit_model.zoo import build_tiny
    path = build_tiny("instructblip", "/tmp/tiny-instructblip", seed=0)

From the shell::

    emovit zoo --kind instructblip --out /tmp/tiny-instructblip
    emovit zoo --kind all --out /tmp/zoo          # one sub-folder per kind
    emovit zoo --kind llava --tokenizer MY_TOKENIZER --out /tmp/tiny-llava   # around a tokenizer on disk

Architectures mirror the real checkpoints: InstructBLIP = BLIP-2 ViT + Q-Former (instruction-aware) + Llama
(like ``Salesforce/instructblip-vicuna-7b``); BLIP-2 = ViT + Q-Former + OPT (like ``Salesforce/blip2-opt-2.7b``);
LLaVA = CLIP ViT + MLP projector + Llama (like ``llava-hf/llava-1.5-7b-hf``); LLaVA-NeXT adds any-resolution
tiling, so the number of image tokens depends on the image's size (like ``llava-hf/llava-v1.6-vicuna-7b-hf``);
Idefics3 = SigLIP-style ViT + pixel-shuffle connector + Llama 3, images split into tiles plus a global view
(like ``HuggingFaceM4/Idefics3-8B-Llama3`` and SmolVLM); CLIP = ViT + text transformer (like
``openai/clip-vit-large-patch14``, the zero-shot image-text baseline). The chat templates are the real
checkpoints' (:data:`LLAVA_CHAT_TEMPLATE`, :data:`IDEFICS3_CHAT_TEMPLATE`). Vision towers use
``initializer_range=0.02``: the BLIP default (1e-10) would make every image look the same.

The 2025-2026 families always build with their real tokenizer kind (``tokenizer`` ``real`` or ``bytelevel`` alike;
a tokenizer folder is for the six kinds above) and are written in their Hub folder layout.

LLaVA fine-tuned on the instruction data (the benchmark's ``llava-ft``) needs no extra kind: it is the
``llava`` checkpoint plus a projector or LoRA adapter written by ``emovit train --base <llava>``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.errors import UsageError

#: Kinds the zoo can build: the EmoVIT paper's, then the 2025-2026 reference families
#: (:mod:`emovit_model.zoo_families`).
KINDS: tuple[str, ...] = ("instructblip", "blip2", "llava", "llava-next", "idefics3", "clip", "qwen2-vl", "qwen2.5-vl",
                          "qwen3-vl", "gemma3", "internvl", "llava-onevision")
#: Kinds that build around a tokenizer folder (``--tokenizer DIR``); the others always use their real kind.
USER_TOKENIZER_KINDS: tuple[str, ...] = ("instructblip", "blip2", "llava", "llava-next", "idefics3", "clip")
#: Tokenizer choices besides a directory: the real checkpoints' kinds, or the zoo's first byte-level ones.
TOKENIZERS: tuple[str, ...] = ("real", "bytelevel")
#: Mean/std used by BLIP-2/InstructBLIP and CLIP image processors (OpenAI CLIP statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: The chat template of llava-hf's LLaVA-1.5 and LLaVA-NeXT (Vicuna) checkpoints (their ``chat_template.json``):
#: ``USER: <image>\n{text} ASSISTANT:``; an assistant turn is written ``ASSISTANT: {text} `` (no EOS).
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}"
    "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', "
    "'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != "
    "'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', "
    "'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
#: The chat template of ``HuggingFaceM4/Idefics3-8B-Llama3``: ``<|begin_of_text|>User:<image>{text}<end_of_utterance>
#: \nAssistant:``; an assistant turn ends with ``<end_of_utterance>``. (SmolVLM's starts with ``<|im_start|>``.)
IDEFICS3_CHAT_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]"
    "['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}"
    "{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}"
    "{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
#: Llama 3's special tokens (the Idefics3 tokenizer's BOS, EOS and pad).
LLAMA3_BOS, LLAMA3_EOS, LLAMA3_PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"


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


#: The image placeholder every generative zoo model's tokenizer carries, and Idefics3's end of a turn.
IMAGE_TOKEN, END_OF_UTTERANCE = "<image>", "<end_of_utterance>"
#: Idefics3's image layout tokens (the real tokenizer has them as added tokens).
IDEFICS3_LAYOUT_TOKENS = ("<global-img>", *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)))


def tokenizers(spec: TinySpec):
    """``(tokenizer, qformer_tokenizer or None)`` of a tiny ``spec.kind`` model, per ``spec.tokenizer``."""
    from emovit_model.zoo import tokenizer as kinds

    q_former = spec.kind in ("instructblip", "blip2")
    # the zoo's first byte-level tokenizers: asked for, or the real kind already (BLIP-2's OPT, CLIP)
    first = spec.tokenizer == "bytelevel" or (spec.tokenizer == "real" and spec.kind in ("blip2", "clip"))
    if first and spec.kind == "clip":
        return kinds.clip_tokenizer(spec.vocab_size), None
    if first and spec.kind != "idefics3":
        llm = kinds.llm_tokenizer(spec.vocab_size, image_attribute=not q_former)
        return llm, kinds.qformer_tokenizer(spec.vocab_size) if q_former else None
    qformer = kinds.wordpiece_tokenizer(spec.vocab_size) if q_former else None
    if spec.tokenizer not in TOKENIZERS:
        return user_tokenizer(spec.kind, spec.tokenizer), qformer
    if spec.kind == "instructblip":  # LAVIS's Vicuna: BOS = EOS = UNK = </s>, [PAD] added, then <image>
        return kinds.llama_tokenizer(spec.vocab_size, added=("[PAD]", IMAGE_TOKEN), pad="[PAD]", bos="</s>",
                                     unk="</s>", image_attribute=False), qformer
    if spec.kind == "idefics3":  # Llama 3's byte-level BPE; the processor adds the image tokens
        tokenizer = kinds.byte_level_tokenizer(spec.vocab_size, bos=LLAMA3_BOS, eos=LLAMA3_EOS, pad=LLAMA3_PAD)
        tokenizer.add_tokens(list(IDEFICS3_LAYOUT_TOKENS))
        return tokenizer, None
    return kinds.llama_tokenizer(spec.vocab_size), None  # llava-hf: <image> then <pad> after the vocabulary


#: What the real checkpoints add to their language model's tokenizer: ``(image token, pad token)``.
ADDED_TOKENS: dict[str, tuple[str | None, str]] = {
    "instructblip": (IMAGE_TOKEN, "[PAD]"), "blip2": (IMAGE_TOKEN, "<pad>"), "llava": (IMAGE_TOKEN, "<pad>"),
    "llava-next": (IMAGE_TOKEN, "<pad>"), "idefics3": (None, "<pad>"), "clip": (None, "<pad>"),
}


def user_tokenizer(kind: str, folder: str):
    """A tokenizer from ``folder`` (``tokenizer.json`` + ``tokenizer_config.json``) with what a real ``kind``
    checkpoint adds: the image token (named ``image_token`` for LLaVA processors) and a pad token when it has
    none. Its EOS must exist (answers end with it)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{folder}: cannot load a tokenizer ({exc})") from None
    if tokenizer.eos_token is None:
        raise UsageError(f"{folder}/tokenizer_config.json: the tokenizer has no eos_token; answers end with it")
    image, pad = ADDED_TOKENS[kind]
    if image is not None and tokenizer.convert_tokens_to_ids(image) in (None, tokenizer.unk_token_id):
        tokenizer.add_special_tokens({"additional_special_tokens": [image]}, replace_extra_special_tokens=False)
    if image is not None and kind in ("llava", "llava-next"):
        tokenizer.image_token = image
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": pad})
    if kind == "clip" and tokenizer("a")["input_ids"][-1] != tokenizer.eos_token_id:
        raise UsageError(f"{folder}: a CLIP tokenizer must end every text with its eos_token (CLIP pools there)")
    if kind == "idefics3":
        tokenizer.add_tokens([t for t in IDEFICS3_LAYOUT_TOKENS if t not in tokenizer.get_vocab()])
    return tokenizer


def _special_ids(tokenizer) -> dict:
    return {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}


def _llama_config(spec: TinySpec, tokenizer):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads, max_position_embeddings=spec.max_positions,
        **_special_ids(tokenizer), tie_word_embeddings=False, initializer_range=spec.text_initializer_range,
    )


def _opt_config(spec: TinySpec, tokenizer):
    from transformers import OPTConfig

    return OPTConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, ffn_dim=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        word_embed_proj_dim=spec.hidden_size, max_position_embeddings=spec.max_positions,
        **_special_ids(tokenizer), dropout=0.0, init_std=spec.text_initializer_range,
    )


def _blip_parts(spec: TinySpec, qformer_tokenizer) -> dict:
    """Vision and Q-Former sub-configs shared by BLIP-2 and InstructBLIP (as plain dicts)."""
    vision = {
        "hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads,
        "image_size": spec.image_size, "patch_size": spec.patch_size, "initializer_range": 0.02,
    }
    qformer = {
        "vocab_size": len(qformer_tokenizer), "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size, "num_hidden_layers": spec.num_layers,
        "num_attention_heads": spec.num_heads, "max_position_embeddings": spec.max_positions,
        "pad_token_id": qformer_tokenizer.pad_token_id, "cross_attention_frequency": 1,
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

    tokenizer, qformer_tok = tokenizers(spec)
    config = InstructBlipConfig(
        **_blip_parts(spec, qformer_tok), text_config=_llama_config(spec, tokenizer).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    model = InstructBlipForConditionalGeneration(config)
    processor = InstructBlipProcessor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                                      qformer_tokenizer=qformer_tok, num_query_tokens=spec.num_query_tokens)
    return model, processor


def _build_blip2(spec: TinySpec):
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

    tokenizer, qformer_tok = tokenizers(spec)
    config = Blip2Config(
        **_blip_parts(spec, qformer_tok), text_config=_opt_config(spec, tokenizer).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    model = Blip2ForConditionalGeneration(config)
    processor = Blip2Processor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                               num_query_tokens=spec.num_query_tokens)
    return model, processor


def _clip_vision(spec: TinySpec):
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads,
        image_size=spec.image_size, patch_size=spec.patch_size, projection_dim=spec.hidden_size,
    )


def _clip_image_processor(spec: TinySpec, cls=None, **options):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    return (cls or CLIPImageProcessorPil)(
        size={"shortest_edge": spec.image_size}, crop_size={"height": spec.image_size, "width": spec.image_size},
        image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), do_convert_rgb=True, **options,
    )


def _build_llava(spec: TinySpec):
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tokenizer, _ = tokenizers(spec)
    patches = (spec.image_size // spec.patch_size) ** 2
    config = LlavaConfig(
        vision_config=_clip_vision(spec).to_dict(), text_config=_llama_config(spec, tokenizer).to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN), image_seq_length=patches,
        vision_feature_layer=-2, vision_feature_select_strategy="default", projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(config)
    processor = LlavaProcessor(image_processor=_clip_image_processor(spec), tokenizer=tokenizer,
                               patch_size=spec.patch_size, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=LLAVA_CHAT_TEMPLATE)
    return model, processor


def grid_pinpoints(image_size: int) -> list[list[int]]:
    """LLaVA-NeXT's any-resolution grid (llava-hf's ``[[336, 672], [672, 336], [672, 672], [1008, 336],
    [336, 1008]]``) in units of ``image_size``."""
    return [[image_size * h, image_size * w] for h, w in ((1, 2), (2, 1), (2, 2), (3, 1), (1, 3))]


def _build_llava_next(spec: TinySpec):
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextProcessor
    from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil

    tokenizer, _ = tokenizers(spec)
    pinpoints = grid_pinpoints(spec.image_size)
    config = LlavaNextConfig(
        vision_config=_clip_vision(spec).to_dict(), text_config=_llama_config(spec, tokenizer).to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN), image_grid_pinpoints=pinpoints,
        image_seq_length=(spec.image_size // spec.patch_size) ** 2, vision_feature_layer=-2,
        vision_feature_select_strategy="default", projector_hidden_act="gelu", tie_word_embeddings=False,
    )
    model = LlavaNextForConditionalGeneration(config)
    image_processor = _clip_image_processor(spec, LlavaNextImageProcessorPil, image_grid_pinpoints=pinpoints)
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=spec.patch_size,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                   chat_template=LLAVA_CHAT_TEMPLATE)
    return model, processor


def _build_idefics3(spec: TinySpec):
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
    )
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tokenizer, _ = tokenizers(spec)
    scale = 2  # pixel shuffle: each 2x2 block of patches becomes one image token
    image_seq_len = (spec.image_size // spec.patch_size) ** 2 // scale ** 2
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 2 * spec.image_size}, max_image_size={"longest_edge": spec.image_size},
        do_image_splitting=True)
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=image_seq_len,
                                  chat_template=IDEFICS3_CHAT_TEMPLATE)  # adds <image>, <end_of_utterance> ...
    vision = Idefics3VisionConfig(
        hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads, image_size=spec.image_size, patch_size=spec.patch_size,
        initializer_range=0.02)
    config = Idefics3Config(vision_config=vision.to_dict(), text_config=_llama_config(spec, tokenizer).to_dict(),
                            scale_factor=scale, image_token_id=processor.image_token_id,
                            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = Idefics3ForConditionalGeneration(config)
    # an assistant turn ends with <end_of_utterance>: generation stops there (or at the end of text)
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids(END_OF_UTTERANCE),
                                            tokenizer.eos_token_id]
    return model, processor


def _build_clip(spec: TinySpec):
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTextConfig

    tokenizer, _ = tokenizers(spec)
    text = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads, max_position_embeddings=77,
        projection_dim=spec.hidden_size, **_special_ids(tokenizer),
    )
    config = CLIPConfig(text_config=text.to_dict(), vision_config=_clip_vision(spec).to_dict(),
                        projection_dim=spec.hidden_size)
    model = CLIPModel(config)
    return model, CLIPProcessor(image_processor=_clip_image_processor(spec), tokenizer=tokenizer)


_BUILDERS = {"instructblip": _build_instructblip, "blip2": _build_blip2, "llava": _build_llava,
             "llava-next": _build_llava_next, "idefics3": _build_idefics3, "clip": _build_clip}


def _build(spec: TinySpec):
    """``(model, processor, processor class the Hub folder names or None)``, random weights seeded by ``spec.seed``."""
    import torch

    from emovit_model.zoo.recent import BUILDERS

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        if spec.kind in BUILDERS:
            built = BUILDERS[spec.kind](spec)
            model, processor, named = built.model, built.processor, built.processor_class
        else:
            (model, processor), named = _BUILDERS[spec.kind](spec), None
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
        from emovit_model.zoo.recent import Built, save_hub_layout

        save_hub_layout(Built(model, processor, named), out)
    else:
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
    parser.add_argument("--tokenizer", default="real", metavar="real|bytelevel|DIR",
                        help="real: tokenizers of the kinds the real checkpoints use (default); bytelevel: the zoo's "
                             "first byte-level BPE tokenizers; DIR: a tokenizer folder (tokenizer.json + "
                             "tokenizer_config.json) to build the model around")


def run(args) -> int:
    sizes = {"image_size": args.image_size, "hidden_size": args.hidden_size,
             "intermediate_size": 2 * args.hidden_size, "num_layers": args.layers,
             "num_query_tokens": args.query_tokens, "tokenizer": args.tokenizer}
    kinds = KINDS if args.kind == "all" else (args.kind,)
    if args.kind == "all" and args.tokenizer not in TOKENIZERS:
        kinds = USER_TOKENIZER_KINDS
        print(f"--tokenizer DIR: building {', '.join(kinds)} (the other kinds build with their real tokenizers only)")
    for kind in kinds:
        out = Path(args.out) / kind if args.kind == "all" else Path(args.out)
        build_tiny(kind, out, seed=args.seed, **sizes)
        files = sorted(p.name for p in out.iterdir() if p.is_file())
        print(f"{kind} -> {out} (random weights, seed {args.seed}; {len(files)} files: {', '.join(files)})")
    return 0


__all__ = ["IDEFICS3_CHAT_TEMPLATE", "KINDS", "LLAVA_CHAT_TEMPLATE", "TOKENIZERS", "TinySpec", "build_tiny",
           "build_tiny_in_memory", "tokenizers", "user_tokenizer"]
