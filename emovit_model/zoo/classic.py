"""Tiny random checkpoints of the zoo's first six kinds: InstructBLIP, BLIP-2, LLaVA, LLaVA-NeXT, Idefics3, CLIP.

Architectures mirror the real checkpoints: InstructBLIP = BLIP-2 ViT + Q-Former (instruction-aware) + Llama
(like ``Salesforce/instructblip-vicuna-7b``); BLIP-2 = ViT + Q-Former + OPT (like ``Salesforce/blip2-opt-2.7b``);
LLaVA = CLIP ViT + MLP projector + Llama (like ``llava-hf/llava-1.5-7b-hf``); LLaVA-NeXT adds any-resolution
tiling, so the number of image tokens depends on the image's size (like ``llava-hf/llava-v1.6-vicuna-7b-hf``);
Idefics3 = SigLIP-style ViT + pixel-shuffle connector + Llama 3, images split into tiles plus a global view
(like ``HuggingFaceM4/Idefics3-8B-Llama3`` and SmolVLM); CLIP = ViT + text transformer (like
``openai/clip-vit-large-patch14``, the zero-shot image-text baseline). The chat templates are the real
checkpoints' (:mod:`emovit_model.zoo.chat_templates`). Vision towers use ``initializer_range=0.02``: the BLIP
default (1e-10) would make every image look the same.

The tokenizers are trained offline (:mod:`emovit_model.zoo.tokenizer`) and of the kinds the real checkpoints use:
SentencePiece Llama tokenizers for InstructBLIP's Vicuna and the LLaVAs (with the tokens their checkpoints add:
``<image>``, a pad token), BERT WordPiece for the Q-Former, GPT-2-style byte-level BPE for BLIP-2's OPT, CLIP and
Idefics3's Llama 3. ``tokenizer="bytelevel"`` builds the zoo's first, all byte-level tokenizers instead (same
weights as before for the four original kinds), and a directory builds the model around a tokenizer the user has
(``tokenizer.json`` + ``tokenizer_config.json``; the embeddings grow to its vocabulary plus the special tokens the
real checkpoint adds).
"""

from __future__ import annotations

from emovit_model.zoo import TOKENIZERS, Built, TinySpec, chat_templates
from schemas.errors import UsageError

#: Mean/std used by BLIP-2/InstructBLIP and CLIP image processors (OpenAI CLIP statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: Llama 3's special tokens (the Idefics3 tokenizer's BOS, EOS and pad).
LLAMA3_BOS, LLAMA3_EOS, LLAMA3_PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|finetune_right_pad_id|>"
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


def build_instructblip(spec: TinySpec):
    from transformers import InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipProcessor

    tokenizer, qformer_tok = tokenizers(spec)
    config = InstructBlipConfig(
        **_blip_parts(spec, qformer_tok), text_config=_llama_config(spec, tokenizer).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    model = InstructBlipForConditionalGeneration(config)
    processor = InstructBlipProcessor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                                      qformer_tokenizer=qformer_tok, num_query_tokens=spec.num_query_tokens)
    return Built(model, processor)


def build_blip2(spec: TinySpec):
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2Processor

    tokenizer, qformer_tok = tokenizers(spec)
    config = Blip2Config(
        **_blip_parts(spec, qformer_tok), text_config=_opt_config(spec, tokenizer).to_dict(),
        num_query_tokens=spec.num_query_tokens, image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    model = Blip2ForConditionalGeneration(config)
    processor = Blip2Processor(image_processor=_blip_image_processor(spec), tokenizer=tokenizer,
                               num_query_tokens=spec.num_query_tokens)
    return Built(model, processor)


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


def build_llava(spec: TinySpec):
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
                               num_additional_image_tokens=1, chat_template=chat_templates.LLAVA_CHAT_TEMPLATE)
    return Built(model, processor)


def grid_pinpoints(image_size: int) -> list[list[int]]:
    """LLaVA-NeXT's any-resolution grid (llava-hf's ``[[336, 672], [672, 336], [672, 672], [1008, 336],
    [336, 1008]]``) in units of ``image_size``."""
    return [[image_size * h, image_size * w] for h, w in ((1, 2), (2, 1), (2, 2), (3, 1), (1, 3))]


def build_llava_next(spec: TinySpec):
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
                                   chat_template=chat_templates.LLAVA_CHAT_TEMPLATE)
    return Built(model, processor)


def build_idefics3(spec: TinySpec):
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
                                  chat_template=chat_templates.IDEFICS3_CHAT_TEMPLATE)  # adds <image>, <end_of_utterance> ...
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
    return Built(model, processor)


def build_clip(spec: TinySpec):
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
    return Built(model, CLIPProcessor(image_processor=_clip_image_processor(spec), tokenizer=tokenizer))
