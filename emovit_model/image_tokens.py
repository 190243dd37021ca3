"""How many tokens one image puts in a model's prompt, read from its config alone (no weights, no processor).

One rule per way of placing an image, each named in its family's row of :mod:`emovit_model.families`; every rule
takes ``(config, image_size)`` and gives the worst case for models whose count follows the image
(any-resolution grids, tiles). ``image_size`` is the side of the square image for the models whose tokens follow
its pixels (the Qwen-VL family). ``emovit bench plan`` counts prompts with them.
"""

from __future__ import annotations

import math

#: InternVL's dynamic tiling at most (``max_patches``): tiles of the image plus one thumbnail.
INTERNVL_MAX_TILES = 12


def _first(size) -> int:
    """A square size given as ``n`` or ``[n, n]``."""
    return size[0] if isinstance(size, (list, tuple)) else size


def query_tokens(config, image_size: int = 512) -> int:
    """BLIP-2 / InstructBLIP: the Q-Former's queries, whatever the image."""
    return config.num_query_tokens


def merged_patches(config, image_size: int = 512) -> int:
    """The Qwen-VL family: 14-px (Qwen3-VL: 16-px) patches merged 2 x 2, on a square ``image_size`` image."""
    vision = config.vision_config
    side = vision.patch_size * getattr(vision, "spatial_merge_size", 2)
    return math.ceil(image_size / side) ** 2


def internvl_tiles(config, image_size: int = 512) -> int:
    """InternVL: ``<img>``, the context tokens of every tile and of the thumbnail, ``</img>``."""
    vision = config.vision_config
    side = _first(vision.image_size) // _first(vision.patch_size)
    per_tile = getattr(config, "image_seq_length", None) or int(side ** 2 * config.downsample_ratio ** 2)
    return per_tile * (INTERNVL_MAX_TILES + 1) + 2


def any_resolution(config, image_size: int = 512) -> int:
    """LLaVA-NeXT: the base view, the largest grid of ``image_grid_pinpoints`` and a newline per row; LLaVA-OneVision
    (``vision_aspect_ratio`` ``anyres_max_N``): the base view and a grid pooled to at most N base views."""
    vision = config.vision_config
    ratio = str(getattr(config, "vision_aspect_ratio", "") or "")
    if ratio.startswith("anyres_max_"):
        side = vision.image_size // vision.patch_size
        tiles = int(ratio.rsplit("_", 1)[1])
        return side ** 2 * (tiles + 1) + math.isqrt(tiles) * side + 1
    patch, size = vision.patch_size, vision.image_size
    grid = max((h // patch) * (w // patch) + h // patch for h, w in config.image_grid_pinpoints)
    return (size // patch) ** 2 + grid


def idefics3_tiles(config, image_size: int = 512) -> int:
    """Idefics3 / SmolVLM: 4 x 4 tiles and the global view, each pixel-shuffled by ``scale_factor``."""
    vision = config.vision_config
    per_tile = (vision.image_size // vision.patch_size) ** 2 // config.scale_factor ** 2
    return 17 * per_tile


def fixed(config, image_size: int = 512) -> int:
    """The config's own count (``mm_tokens_per_image``: Gemma 3; ``image_seq_length``: LLaVA-1.5), else one token
    per patch of the vision tower (CLIP), else none."""
    for name in ("mm_tokens_per_image", "image_seq_length"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    vision = getattr(config, "vision_config", None)
    if vision is not None:
        return (vision.image_size // vision.patch_size) ** 2
    return 0


def any_model(config, image_size: int = 512) -> int:
    """A model of no family of ours: whichever of the rules above its config's fields call for."""
    if getattr(config, "num_query_tokens", None):
        return query_tokens(config, image_size)
    if str(getattr(config, "vision_aspect_ratio", "") or "").startswith("anyres_max_") \
            or getattr(config, "image_grid_pinpoints", None):
        return any_resolution(config, image_size)
    return fixed(config, image_size)


__all__ = ["INTERNVL_MAX_TILES", "any_model", "any_resolution", "fixed", "idefics3_tiles", "internvl_tiles",
           "merged_patches", "query_tokens"]
