"""Small image files for tests and performance suites that need real, distinct images on disk."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def block_image(seed: int, size: int = 16, blocks: int = 4) -> Image.Image:
    """An RGB image of ``blocks`` x ``blocks`` random colour squares (distinct seeds, unrelated pictures)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (blocks, blocks, 3), dtype=np.uint8)
    return Image.fromarray(small, "RGB").resize((size, size), Image.Resampling.NEAREST)


def jpeg_bytes(seed: int, size: int = 16) -> bytes:
    buffer = io.BytesIO()
    block_image(seed, size).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def write_jpeg(path: str | Path, seed: int = 0, size: int = 16) -> Path:
    """Write a small JPEG at ``path`` (parent folders made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(seed, size))
    return path
