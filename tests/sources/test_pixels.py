import numpy as np
import pytest
from PIL import Image

from builder.sources.pixels import COLORFULNESS_SCALE, colorfulness_raw, pixel_attributes, quantise_level


def solid(rgb, size=8):
    return np.tile(np.array(rgb, dtype=np.uint8), (size, size, 1))


@pytest.mark.parametrize(
    ("rgb", "brightness", "colorfulness"),
    [
        ((0, 0, 0), 0.0, 0.0),
        ((255, 255, 255), 1.0, 0.0),
        ((128, 128, 128), 0.5, 0.0),
        ((51, 51, 51), 0.2, 0.0),
        ((255, 0, 0), 1.0, 0.8),   # M = 0.3 * hypot(255, 127.5) = 85.5 -> 85.5 / 109 = 0.78
        ((0, 0, 255), 1.0, 0.7),   # M = 0.3 * hypot(0, 255) = 76.5 -> 0.70
        ((0, 0, 102), 0.4, 0.3),   # value 102/255 = 0.4; M = 30.6 -> 0.28
    ],
)
def test_solid_colours(rgb, brightness, colorfulness):
    attrs = pixel_attributes(Image.fromarray(solid(rgb)))
    assert (attrs.brightness, attrs.colorfulness) == (brightness, colorfulness)


def test_half_black_half_white_has_mean_brightness_and_no_colour():
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    image[:, 4:] = 255
    attrs = pixel_attributes(Image.fromarray(image))
    assert attrs.brightness == 0.5
    assert attrs.colorfulness == 0.0


def test_colorfulness_saturates_at_one():
    stripes = np.zeros((8, 8, 3), dtype=np.uint8)
    stripes[::2] = (255, 0, 255)   # rg = +255, yb = -127.5
    stripes[1::2] = (0, 255, 0)    # rg = -255, yb = +127.5  -> M = hypot(255, 127.5) = 285 > scale
    assert COLORFULNESS_SCALE < 285
    assert colorfulness_raw(stripes) == 1.0
    assert pixel_attributes(Image.fromarray(stripes)).colorfulness == 1.0


@pytest.mark.parametrize(("raw", "level"), [(0.04, 0.0), (0.05, 0.1), (0.149, 0.1), (0.95, 1.0), (1.7, 1.0), (-0.2, 0.0)])
def test_quantise_level_rounds_half_up_and_clips(raw, level):
    assert quantise_level(raw) == level


def test_grayscale_and_palette_files_are_converted(tmp_path):
    Image.new("L", (4, 4), 255).save(tmp_path / "white.png")
    Image.new("P", (4, 4), 0).save(tmp_path / "black.png")
    assert pixel_attributes(tmp_path / "white.png").brightness == 1.0
    assert pixel_attributes(tmp_path / "black.png").brightness == 0.0
