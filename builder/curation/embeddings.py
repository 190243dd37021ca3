"""Image embeddings for near-duplicate search, uniqueness and the App's embeddings plot, computed here and
handed to ``fiftyone.brain`` (which would otherwise download a zoo model).

``tiny-image`` (default, offline, no model): the image reduced to an 8x8 RGB thumbnail by area averaging,
values in 0-1, divided by ``sqrt(192)``. It is the colour, un-thresholded form of the average hash (aHash:
an 8x8 grey thumbnail thresholded at its mean). The Euclidean distance between two such vectors is the RMS
difference of the thumbnails on a 0-1 scale: 0 for byte-identical images, about ``k/255`` for a uniform
brightness shift of ``k`` levels, under 0.015 for a JPEG re-encode at quality 50-70, while distinct images
(even synthetic ones of one class, which share hue and stripes) are several hundredths apart. Unlike a
binary hash it keeps colour and level, so two dim pictures with the same layout but different hues do not
collide; unlike a colour histogram it has no bin edges for a re-encode to push pixels across.

``vision_encoder_embeddings`` uses the vision tower of an InstructBLIP or BLIP-2 checkpoint (EmoVIT trains
the Q-Former only, so a merged EmoVIT checkpoint and its base share these features): the pooled output for
each image, L2-normalised (Euclidean distance ``d`` then means cosine distance ``d**2 / 2``), read from a
``save_pretrained`` folder without loading the language model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from schemas.errors import UsageError

#: Name and version of the default embedding, stored with the dataset's signals.
TINY_IMAGE = "tiny-image-8x8-rgb/1"
TINY_SIDE = 8
#: Distance metric the embeddings are compared with (``fiftyone.brain`` sklearn similarity backend).
METRIC = "euclidean"


def tiny_image(image: Image.Image) -> np.ndarray:
    """The default embedding of one image: its 8x8 block-averaged RGB thumbnail, scaled (``float32``)."""
    channels = [channel.convert("F").resize((TINY_SIDE, TINY_SIDE), Image.BOX)  # float: area means, unrounded
                for channel in image.convert("RGB").split()]
    values = np.stack([np.asarray(c, dtype=np.float64) for c in channels], axis=-1).ravel() / 255.0
    return (values / np.sqrt(values.size)).astype(np.float32)


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
            for key in handle.keys():  # noqa: SIM118 -- a safetensors handle, not a dict
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
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    features = np.concatenate(rows).astype(np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.where(norms > 0, norms, 1.0)).astype(np.float32)
