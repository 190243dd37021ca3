"""Hostile image files for the reliability tests: truncated and corrupt JPEGs, decompression bombs."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def noisy_jpeg(size: int = 96, seed: int = 0) -> bytes:
    """A JPEG of random pixels (plenty of scan data to cut or spoil)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _scan(data: bytes) -> tuple[int, int]:
    """Start and end of a baseline JPEG's entropy-coded data (after the SOS header, before EOI)."""
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    return start, len(data) - 2


def truncated_jpeg(fraction: float = 0.6, seed: int = 0) -> bytes:
    """A JPEG cut at ``fraction`` of its scan data: its header (and PIL's ``verify``) look fine."""
    data = noisy_jpeg(seed=seed)
    start, end = _scan(data)
    return data[: start + int((end - start) * fraction)]


def garbage_jpeg(seed: int = 2) -> bytes:
    """A JPEG whose scan data has 2,000 random bytes in its middle. With seed 2 they break the data stream;
    libjpeg reads past some garbage (seeds 0, 1, 3), and then a full decode, the training's, passes too."""
    data = noisy_jpeg(seed=seed)
    start, end = _scan(data)
    middle = (start + end) // 2
    noise = np.random.default_rng(seed + 1).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    return data[:middle] + noise + data[middle + 2000:]


def bomb_jpeg(width: int = 12000, height: int = 12000) -> bytes:
    """A few hundred bytes of JPEG whose header declares ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = height.to_bytes(2, "big")
    data[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def png_bytes(seed: int = 0, size: int = 16, format: str = "PNG") -> bytes:
    """A small image in ``format`` (PNG, WEBP, GIF)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=format)
    return buffer.getvalue()
