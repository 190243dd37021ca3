"""Image embeddings for near-duplicate search, uniqueness and the App's embeddings plot, computed here and
handed to ``fiftyone.brain`` (which would otherwise download a zoo model).

``thumbnail-histogram`` (default, offline, no model): the concatenation, each half unit-length, of

* the layout: a 16x16 greyscale thumbnail (bilinear), mean removed -- invariant to brightness offsets, it
  follows where light and dark sit in the picture;
* the colours: a joint HSV histogram (8 hue x 4 saturation x 4 value bins) with square-rooted frequencies
  (the Hellinger mapping, so cosine similarity compares distributions fairly).

Cosine distance between two such vectors is the mean of the two halves' distances, so a pair is close only
when layout *and* colours agree. Byte-identical images have distance 0; a JPEG re-encode or a small
brightness change stays within a few hundredths; different images of one synthetic class (same hue and
stripes, other saturation, value and phase) are more than 0.1 apart.

``vision_encoder_embeddings`` uses the vision tower of an InstructBLIP or BLIP-2 checkpoint (EmoVIT trains
the Q-Former only, so a merged EmoVIT checkpoint and its base share these features): the pooled output for
each image, read from a ``save_pretrained`` folder without loading the language model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from schemas.errors import UsageError

#: Name and version of the default embedding, stored with the dataset's signals.
THUMBNAIL_HISTOGRAM = "thumbnail-histogram/1"
THUMBNAIL_SIDE = 16
HUE_BINS, SATURATION_BINS, VALUE_BINS = 8, 4, 4


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def layout_vector(image: Image.Image) -> np.ndarray:
    """The mean-removed 16x16 greyscale thumbnail, unit length (all zeros for a flat image)."""
    grey = np.asarray(image.convert("L").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.BILINEAR), dtype=np.float64)
    return _unit(grey.ravel() - grey.mean())


def colour_vector(image: Image.Image) -> np.ndarray:
    """Square roots of the joint HSV histogram's frequencies, unit length."""
    hsv = np.asarray(image.convert("RGB").convert("HSV"), dtype=np.int64).reshape(-1, 3)
    bins = ((hsv[:, 0] * HUE_BINS // 256) * SATURATION_BINS + hsv[:, 1] * SATURATION_BINS // 256) * VALUE_BINS \
        + hsv[:, 2] * VALUE_BINS // 256
    counts = np.bincount(bins, minlength=HUE_BINS * SATURATION_BINS * VALUE_BINS).astype(np.float64)
    return _unit(np.sqrt(counts / counts.sum()))


def thumbnail_histogram(image: Image.Image) -> np.ndarray:
    """The default embedding of one image (``float32``, unit length unless the image is flat grey)."""
    return (np.concatenate([layout_vector(image), colour_vector(image)]) / np.sqrt(2.0)).astype(np.float32)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``1 - cos(a, b)``; the distance ``fiftyone.brain``'s similarity index uses by default."""
    return float(1.0 - np.dot(_unit(a.astype(np.float64)), _unit(b.astype(np.float64))))


def _vision_state(checkpoint: Path) -> dict:
    """The ``vision_model.*`` tensors of a safetensors checkpoint (single file or sharded), prefix removed."""
    from safetensors import safe_open

    index = checkpoint / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (checkpoint / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        raise UsageError(f"{checkpoint}: no model.safetensors (a save_pretrained InstructBLIP/BLIP-2 folder is needed)")
    state = {}
    for name in files:
        with safe_open(str(checkpoint / name), framework="pt") as handle:
            for key in handle.keys():
                if key.startswith("vision_model."):
                    state[key[len("vision_model."):]] = handle.get_tensor(key)
    return state


def load_vision_encoder(checkpoint: str | Path):
    """``(vision_model, image_processor)`` of an InstructBLIP or BLIP-2 ``save_pretrained`` folder."""
    import transformers

    checkpoint = Path(checkpoint)
    if (checkpoint / "adapter_config.json").is_file():
        raise UsageError(f"{checkpoint}: an EmoVIT adapter holds no vision weights; pass its base model folder "
                         "(EmoVIT keeps the vision encoder frozen) or a merged checkpoint")
    if not (checkpoint / "config.json").is_file():
        raise UsageError(f"{checkpoint}: not a model folder (no config.json)")
    config = transformers.AutoConfig.from_pretrained(str(checkpoint))
    classes = {"instructblip": transformers.InstructBlipVisionModel, "blip-2": transformers.Blip2VisionModel}
    if config.model_type not in classes:
        raise UsageError(f"{checkpoint}: model type {config.model_type!r} is not InstructBLIP or BLIP-2")
    model = classes[config.model_type](config.vision_config)
    state = _vision_state(checkpoint)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UsageError(f"{checkpoint}: vision weights do not fit the config "
                         f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    processor = transformers.AutoImageProcessor.from_pretrained(str(checkpoint))
    return model.eval(), processor


def vision_encoder_embeddings(images: Sequence[str], checkpoint: str | Path, *, batch_size: int = 16,
                              progress: bool = True) -> np.ndarray:
    """Pooled vision-encoder features of the image files ``images`` (``float32``, one row per image)."""
    import torch
    from tqdm.auto import tqdm

    model, processor = load_vision_encoder(checkpoint)
    rows = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(images), batch_size), desc="vision embeddings", unit="batch",
                          disable=not progress):
            batch = []
            for path in images[start:start + batch_size]:
                with Image.open(path) as opened:
                    batch.append(opened.convert("RGB"))
            pixels = processor(images=batch, return_tensors="pt")["pixel_values"]
            rows.append(model(pixel_values=pixels).pooler_output.float().numpy())
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
