"""Brightness and colorfulness computed from pixels, on EmoSet's 0-1 scale quantised to a 0.1 grid.

Formulas (EmoSet's exact normalisation is unpublished; these are ours, documented here and in the README):

* **brightness** = mean over pixels of the HSV value channel, ``V = max(R, G, B) / 255``, following
  Datta et al. (2006). Black is 0, white is 1.
* **colorfulness** = Hasler & Suesstrunk's (2003) metric on 8-bit RGB,
  ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)`` with ``rg = R - G`` and
  ``yb = (R + G) / 2 - B``, divided by ``COLORFULNESS_SCALE`` and clipped to 1. Greyscale images are 0.
  ``COLORFULNESS_SCALE`` = 109 is the value Hasler & Suesstrunk report for an "extremely colourful" image.

Both are rounded half-up to one decimal, giving the 11 levels ``0.0, 0.1, ..., 1.0`` of ``info.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

COLORFULNESS_SCALE = 109.0


def quantise_level(value: float) -> float:
    """Round a 0-1 value half-up onto the 0.1 grid (clipped to [0, 1])."""
    return float(np.floor(min(max(value, 0.0), 1.0) * 10 + 0.5) / 10)


def brightness_raw(rgb: np.ndarray) -> float:
    """Mean HSV value of an ``(H, W, 3)`` uint8 RGB array, in [0, 1]."""
    return float(rgb.max(axis=2).mean() / 255.0)


def colorfulness_raw(rgb: np.ndarray) -> float:
    """Hasler-Suesstrunk colorfulness of an ``(H, W, 3)`` uint8 RGB array, scaled to [0, 1]."""
    pixels = rgb.astype(np.float64)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    metric = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return float(min(metric / COLORFULNESS_SCALE, 1.0))


@dataclass(frozen=True)
class PixelAttributes:
    """Quantised brightness and colorfulness of one image."""

    brightness: float
    colorfulness: float


def pixel_attributes_of_array(rgb: np.ndarray) -> PixelAttributes:
    """Quantised attributes of an ``(H, W, 3)`` uint8 RGB array."""
    return PixelAttributes(quantise_level(brightness_raw(rgb)), quantise_level(colorfulness_raw(rgb)))


def pixel_attributes(image: str | Path | Image.Image) -> PixelAttributes:
    """Quantised attributes of an image file or PIL image (converted to RGB first)."""
    if isinstance(image, Image.Image):
        return pixel_attributes_of_array(np.asarray(image.convert("RGB")))
    with Image.open(image) as opened:
        return pixel_attributes_of_array(np.asarray(opened.convert("RGB")))
