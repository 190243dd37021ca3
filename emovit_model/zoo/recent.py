"""Tiny random checkpoints of the 2025-2026 reference families, as transformers 5 names them, for the zoo
(:mod:`emovit_model.zoo`): Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Gemma 3, InternVL and LLaVA-OneVision.

Each mirrors its real checkpoint's layout at a tiny size: the real model class, the real processor class, the
image processor's PIL backend with the real resizing rule (dynamic resolution for the Qwen-VL family, tiles for
InternVL, any-resolution grids for LLaVA-OneVision, a fixed square for Gemma 3), a tokenizer of the right kind
(Qwen2's byte-level BPE with Qwen's special tokens; SentencePiece for Gemma) and the checkpoint's chat template
(:mod:`emovit_model.zoo.chat_templates`). Generation stops where the real ``generation_config.json`` says.

The video-capable families (every one here but Gemma 3) are written in their Hub folder layout
(``config.json``, ``generation_config.json``, ``preprocessor_config.json`` naming the real processor class,
``processor_config.json`` with the processor's own settings, tokenizer files, ``chat_template.jinja``) without
ever building their video processor, so writing and loading them needs no ``torchvision``
(:func:`emovit_model.processors.load_processor`, :func:`emovit_model.zoo.save_hub_layout`).
"""

from __future__ import annotations

from emovit_model.zoo import Built, chat_templates
from emovit_model.zoo import tokenizer as kinds

#: Qwen-VL image placement: pixels per patch side in the tiny models (the real ones use 14, 16 for Qwen3-VL), and
#: the image sizes the dynamic-resolution rule keeps them between (in merged 2 x 2 patches of 16 px: 2 x 2 ... 4 x 4).
QWEN_PATCH, QWEN_MIN_PIXELS, QWEN_MAX_PIXELS = 8, 32 * 32, 64 * 64
#: InternVL's image-text markers and the tokens its tokenizer adds after Qwen2.5's.
INTERNVL_TOKENS: tuple[str, ...] = ("<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>",
                                    "</box>", "<video>")
#: LLaVA-OneVision's Qwen2 tokenizer adds these two after Qwen's special tokens.
ONEVISION_TOKENS: tuple[str, ...] = ("<image>", "<video>")


def _video_capable(cls_name: str, image_processor, tokenizer, chat_template: str, **settings) -> tuple[object, str]:
    """The processor ``cls_name`` without its video half (its image path is the full processor's), and the name."""
    import transformers

    from emovit_model.processors import image_only

    cls = getattr(transformers, cls_name)
    return image_only(cls)(image_processor, tokenizer, chat_template=chat_template, **settings), cls_name


def _ids(tokenizer, *tokens: str) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in tokens]


def _qwen_text(spec, tokenizer, **extra) -> dict:
    """A Qwen2-style language model config: grouped-query attention (2 key/value heads of 4), M-RoPE sections
    (temporal, height, width) scaled from the real [16, 24, 24] of a 128-wide head ([2, 3, 3] for 16 wide)."""
    eos, pad = _ids(tokenizer, "<|im_end|>", "<|endoftext|>")
    half = spec.hidden_size // spec.num_heads // 2  # rotary frequencies per head, shared out over (t, h, w)
    temporal = half // 4
    height = (half - temporal) // 2
    sections = extra.pop("mrope_section", [temporal, height, half - temporal - height])
    return {"vocab_size": len(tokenizer), "hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads, "num_key_value_heads": 2,
            "max_position_embeddings": spec.max_positions, "initializer_range": spec.text_initializer_range,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": sections, **extra},
            "bos_token_id": pad, "eos_token_id": eos, "pad_token_id": pad}


def _qwen_image_processor(**options):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(patch_size=QWEN_PATCH, merge_size=2, temporal_patch_size=2,
                                    min_pixels=QWEN_MIN_PIXELS, max_pixels=QWEN_MAX_PIXELS, **options)


def _stop_at(model, tokenizer, *tokens: str) -> None:
    """``generation_config.eos_token_id`` as the real checkpoint's (the end-of-turn token, then the others)."""
    model.generation_config.eos_token_id = _ids(tokenizer, *tokens)
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def _qwen_ids(tokenizer) -> dict:
    image, video, start, end = _ids(tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    return {"image_token_id": image, "video_token_id": video, "vision_start_token_id": start,
            "vision_end_token_id": end}


def build_qwen2_vl(spec) -> Built:
    """Like ``Qwen/Qwen2-VL-7B-Instruct``: ViT with 2-D rotary positions and a 2 x 2 patch merger, Qwen2 LLM with
    multimodal rotary positions (M-RoPE)."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = kinds.qwen_tokenizer(spec.vocab_size)
    vision = {"depth": spec.num_layers, "embed_dim": spec.hidden_size // 2, "hidden_size": spec.hidden_size,
              "num_heads": 2, "mlp_ratio": 2, "patch_size": QWEN_PATCH, "spatial_merge_size": 2,
              "temporal_patch_size": 2}
    config = Qwen2VLConfig(text_config=_qwen_text(spec, tokenizer), vision_config=vision, **_qwen_ids(tokenizer))
    model = Qwen2VLForConditionalGeneration(config)
    _stop_at(model, tokenizer, "<|im_end|>", "<|endoftext|>")
    processor, name = _video_capable("Qwen2VLProcessor", _qwen_image_processor(), tokenizer,
                                     chat_templates.QWEN2_VL_CHAT_TEMPLATE)
    return Built(model, processor, name)


def build_qwen2_5_vl(spec) -> Built:
    """Like ``Qwen/Qwen2.5-VL-7B-Instruct``: windowed attention in the ViT with full attention in its last layer,
    SwiGLU, the same Qwen2 LLM with M-RoPE; Qwen2.5's added tokens."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = kinds.qwen_tokenizer(spec.vocab_size, added=kinds.QWEN25_ADDED)
    vision = {"depth": spec.num_layers, "hidden_size": spec.hidden_size // 2, "intermediate_size": spec.hidden_size,
              "num_heads": 2, "out_hidden_size": spec.hidden_size, "patch_size": QWEN_PATCH, "spatial_merge_size": 2,
              "temporal_patch_size": 2, "window_size": 2 * 2 * QWEN_PATCH,
              "fullatt_block_indexes": [spec.num_layers - 1]}
    config = Qwen2_5_VLConfig(text_config=_qwen_text(spec, tokenizer), vision_config=vision, **_qwen_ids(tokenizer))
    model = Qwen2_5_VLForConditionalGeneration(config)
    _stop_at(model, tokenizer, "<|im_end|>", "<|endoftext|>")
    processor, name = _video_capable("Qwen2_5_VLProcessor", _qwen_image_processor(), tokenizer,
                                     chat_templates.QWEN2_VL_CHAT_TEMPLATE)
    return Built(model, processor, name)


def build_qwen3_vl(spec) -> Built:
    """Like ``Qwen/Qwen3-VL-8B-Instruct``: ViT with learned position embeddings and DeepStack features fed into the
    first LLM layers, Qwen3 LLM (per-head q/k norms) with interleaved M-RoPE; Qwen3's added tokens (``<think>``
    ...). The Thinking checkpoints differ only in their chat template
    (:data:`~emovit_model.zoo.chat_templates.QWEN3_VL_THINKING_CHAT_TEMPLATE`)."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = kinds.qwen_tokenizer(spec.vocab_size, added=kinds.QWEN3_ADDED)
    head = spec.hidden_size // spec.num_heads
    text = _qwen_text(spec, tokenizer, mrope_section=[head // 4, head // 8, head // 8], mrope_interleaved=True)
    text["head_dim"] = head
    vision = {"depth": spec.num_layers, "hidden_size": spec.hidden_size // 2, "intermediate_size": spec.hidden_size,
              "num_heads": 2, "out_hidden_size": spec.hidden_size, "patch_size": QWEN_PATCH, "spatial_merge_size": 2,
              "temporal_patch_size": 2, "num_position_embeddings": 64,
              "deepstack_visual_indexes": list(range(spec.num_layers - 1))}
    config = Qwen3VLConfig(text_config=text, vision_config=vision, **_qwen_ids(tokenizer))
    model = Qwen3VLForConditionalGeneration(config)
    _stop_at(model, tokenizer, "<|im_end|>", "<|endoftext|>")
    image_processor = _qwen_image_processor(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    processor, name = _video_capable("Qwen3VLProcessor", image_processor, tokenizer,
                                     chat_templates.QWEN3_VL_CHAT_TEMPLATE)
    return Built(model, processor, name)


def build_gemma3(spec) -> Built:
    """Like ``google/gemma-3-4b-it``: SigLIP ViT, its patch features average-pooled to a fixed number of soft
    tokens per image (256 there, 4 here) between ``<start_of_image>`` and ``<end_of_image>``, Gemma 3 LLM with
    local sliding-window and global layers; image tokens attend to each other both ways."""
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    tokenizer = kinds.gemma_tokenizer(spec.vocab_size)
    boi, eoi, image = _ids(tokenizer, *kinds.GEMMA_IMAGE)
    head = spec.hidden_size // spec.num_heads
    # Gemma scales its input embeddings by sqrt(hidden size) and ties them to the output layer: at the zoo's 0.2 a
    # random Gemma only repeats its last token, at a tenth of it it responds to its input as the other LLMs do
    init = spec.text_initializer_range / 10
    text = {"vocab_size": len(tokenizer), "hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads, "num_key_value_heads": 2,
            "head_dim": head, "query_pre_attn_scalar": head, "sliding_window": 16,
            "layer_types": ["sliding_attention"] * (spec.num_layers - 1) + ["full_attention"],
            "max_position_embeddings": spec.max_positions, "initializer_range": init,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    vision = {"model_type": "siglip_vision_model", "hidden_size": spec.hidden_size,
              "intermediate_size": spec.intermediate_size, "num_hidden_layers": spec.num_layers,
              "num_attention_heads": spec.num_heads, "image_size": spec.image_size, "patch_size": spec.patch_size}
    soft_tokens = ((spec.image_size // spec.patch_size) // 2) ** 2
    config = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=soft_tokens,
                          boi_token_index=boi, eoi_token_index=eoi, image_token_index=image, initializer_range=0.02)
    model = Gemma3ForConditionalGeneration(config)
    with torch.no_grad():  # transformers starts the projection at zero (no image signal in a random model)
        model.model.multi_modal_projector.mm_input_projection_weight.normal_(0.0, init)
    _stop_at(model, tokenizer, "<eos>", "<end_of_turn>")
    image_processor = Gemma3ImageProcessorPil(size={"height": spec.image_size, "width": spec.image_size},
                                              image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    processor = Gemma3Processor(image_processor=image_processor, tokenizer=tokenizer,
                                chat_template=chat_templates.GEMMA3_CHAT_TEMPLATE, image_seq_length=soft_tokens)
    return Built(model, processor)


def build_internvl(spec) -> Built:
    """Like ``OpenGVLab/InternVL3-8B-hf``: InternViT, pixel shuffle (downsample 0.5) and an MLP projector, Qwen2.5
    LLM; an image is cut into ``spec.image_size`` tiles by its aspect ratio, plus a thumbnail, each tile
    ``<img>`` + its context tokens + ``</img>``."""
    from transformers import InternVLConfig, InternVLForConditionalGeneration
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    extra = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    tokenizer = kinds.qwen_tokenizer(spec.vocab_size, special=(*kinds.QWEN_SPECIAL, *INTERNVL_TOKENS),
                                     added=kinds.QWEN25_ADDED, extra_special=extra)
    text = _qwen_text(spec, tokenizer)
    text["rope_parameters"].pop("mrope_section")
    text["model_type"] = "qwen2"
    vision = {"hidden_size": spec.hidden_size, "intermediate_size": spec.intermediate_size,
              "num_hidden_layers": spec.num_layers, "num_attention_heads": spec.num_heads,
              "image_size": [spec.image_size, spec.image_size], "patch_size": [spec.patch_size, spec.patch_size],
              "initializer_range": 0.02}
    config = InternVLConfig(vision_config=vision, text_config=text, image_token_id=_ids(tokenizer, "<IMG_CONTEXT>")[0],
                            downsample_ratio=0.5, vision_feature_layer=-1)
    model = InternVLForConditionalGeneration(config)
    _stop_at(model, tokenizer, "<|im_end|>", "<|endoftext|>")
    image_processor = GotOcr2ImageProcessorPil(size={"height": spec.image_size, "width": spec.image_size},
                                               crop_to_patches=True, min_patches=1, max_patches=6,
                                               image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    per_tile = (spec.image_size // spec.patch_size) ** 2 // 4
    processor, name = _video_capable("InternVLProcessor", image_processor, tokenizer,
                                     chat_templates.INTERNVL_CHAT_TEMPLATE, image_seq_length=per_tile)
    return Built(model, processor, name)


def onevision_pinpoints(image_size: int) -> list[list[int]]:
    """LLaVA-OneVision's any-resolution grids (384-px tiles up to 6 x 6 there) in units of ``image_size``, up to
    3 x 3 here."""
    return [[image_size * h, image_size * w] for h in range(1, 4) for w in range(1, 4)]


def build_llava_onevision(spec) -> Built:
    """Like ``llava-hf/llava-onevision-qwen2-7b-ov-hf``: SigLIP ViT (all patches, no CLS), MLP projector, Qwen2
    LLM; any-resolution grids with the base view, ``anyres_max_9`` pooling of large grids."""
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil,
    )

    tokenizer = kinds.qwen_tokenizer(spec.vocab_size, special=(*kinds.QWEN_SPECIAL[:3], *ONEVISION_TOKENS))
    text = _qwen_text(spec, tokenizer)
    text["rope_parameters"].pop("mrope_section")
    text["model_type"] = "qwen2"
    vision = {"model_type": "siglip_vision_model", "hidden_size": spec.hidden_size,
              "intermediate_size": spec.intermediate_size, "num_hidden_layers": spec.num_layers,
              "num_attention_heads": spec.num_heads, "image_size": spec.image_size, "patch_size": spec.patch_size}
    pinpoints = onevision_pinpoints(spec.image_size)
    image, video = _ids(tokenizer, *ONEVISION_TOKENS)
    config = LlavaOnevisionConfig(vision_config=vision, text_config=text, image_token_index=image,
                                  video_token_index=video, image_grid_pinpoints=pinpoints, vision_feature_layer=-1,
                                  vision_feature_select_strategy="full", vision_aspect_ratio="anyres_max_9",
                                  tie_word_embeddings=False)
    model = LlavaOnevisionForConditionalGeneration(config)
    _stop_at(model, tokenizer, "<|im_end|>", "<|endoftext|>")
    image_processor = LlavaOnevisionImageProcessorPil(
        size={"height": spec.image_size, "width": spec.image_size}, image_grid_pinpoints=pinpoints,
        image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_pad=True)
    processor, name = _video_capable(
        "LlavaOnevisionProcessor", image_processor, tokenizer, chat_templates.LLAVA_ONEVISION_CHAT_TEMPLATE,
        num_image_tokens=(spec.image_size // spec.patch_size) ** 2, vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9")
    return Built(model, processor, name)


__all__ = ["build_gemma3", "build_internvl", "build_llava_onevision", "build_qwen2_5_vl", "build_qwen2_vl",
           "build_qwen3_vl", "onevision_pinpoints"]
