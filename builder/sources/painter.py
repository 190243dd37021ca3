"""The synthetic image painter shared by the synthetic EmoSet trees (:mod:`builder.sources.synth`) and the
held-out layouts (:mod:`builder.sources.layouts`): each EmoSet emotion owns a hue and a stripe
orientation/frequency, so a tiny model can learn the class from the pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image

from schemas.vocab import EMOTIONS


def render_image(emotion: str, rng: np.random.Generator, size: int) -> Image.Image:
    """An RGB image whose hue and stripe pattern encode ``emotion``; saturation/value/phase come from ``rng``."""
    index = EMOTIONS.index(emotion)
    hue = (index * 32 + rng.integers(-3, 4)) % 256
    saturation = rng.uniform(0.3, 1.0)
    value = rng.uniform(0.25, 1.0)
    angle = np.pi * (index % 4) / 4
    frequency = 2.0 + 2.0 * (index // 4)
    ys, xs = np.mgrid[0:size, 0:size] / size
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (xs * np.cos(angle) + ys * np.sin(angle))
                                 + rng.uniform(0, 2 * np.pi))
    v_map = value * (0.7 + 0.3 * stripes) + rng.normal(0.0, 0.02, (size, size))
    hsv = np.stack([
        np.full((size, size), hue, dtype=np.float64),
        np.full((size, size), 255 * saturation),
        255 * np.clip(v_map, 0.0, 1.0),
    ], axis=2)
    return Image.fromarray(np.round(hsv).astype(np.uint8), "HSV").convert("RGB")
