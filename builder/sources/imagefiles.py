"""Opening source images safely: one containment rule, one pixel limit and one decoding check for every stage.

* **Containment.** A source image is opened only when its resolved path lies inside the tree's root and is a
  regular file (:func:`contained_file`). The reader applies the rule before it opens anything; every stage
  that opens a source image after the build (export, curation, training, scoring) applies it again
  (:func:`check_build_image`), because a file may have been replaced by a link after the build.
* **Pixel limit.** Width x height, read from the header before anything is decoded, may not exceed
  ``max_pixels`` (:data:`DEFAULT_MAX_PIXELS` unless an option says otherwise): a few hundred bytes can declare a
  picture that takes gigabytes to decode. PIL's own guard (a warning above 89 MP, an error above 179 MP) is
  subsumed: its error counts as over the limit.
* **Decoding.** :func:`verify_image_bytes` decodes the image, which PIL's ``verify`` does not do for JPEG data:
  a JPEG cut short or holding garbage passes ``verify`` and fails the first decode, mid-epoch. JPEGs are decoded
  in draft mode at 1/8 scale: every byte of scan data is still entropy-decoded (where truncation and corrupt
  data show), only the inverse DCT is smaller.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

#: The default pixel limit (width x height) of every stage: 50 megapixels, about 8660 x 5770.
DEFAULT_MAX_PIXELS = 50_000_000
#: File name extension of each image format PIL names (the LLaVA export keeps each image's real one).
FORMAT_EXTENSIONS: dict[str, str] = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif",
                                     "BMP": ".bmp", "TIFF": ".tiff"}


class ImageProblem(Exception):
    """An image file that must not be used: ``code`` is its quarantine code, ``reason`` the sentence."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class CheckedImage:
    """An image that passed: its size, format and the sha256 of its bytes."""

    width: int
    height: int
    format: str | None
    sha256: str


def check_max_pixels(value: int) -> int:
    """``value`` as a pixel limit (a positive integer), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_pixels must be a positive whole number of pixels, got {value!r}")
    return value


def add_image_options(parser) -> None:
    """``--no-verify-images`` and ``--max-pixels``, as ``emovit validate`` and ``emovit build`` take them."""
    parser.add_argument("--no-verify-images", action="store_true",
                        help="do not decode images (the file, its header and the pixel limit are still checked)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"pixel limit (width x height, read from the header before decoding); larger images "
                             f"are quarantined as image_too_large (default {DEFAULT_MAX_PIXELS:,})")


def inside(path: str, root_real: str) -> bool:
    """Whether the resolved ``path`` lies inside the resolved root ``root_real``."""
    return os.path.realpath(path).startswith(root_real.rstrip(os.sep) + os.sep)


def contained_file(path: str | os.PathLike, root: str | os.PathLike | None) -> str:
    """The resolved path of ``path`` after the containment rule: inside ``root`` (when one is known) and a
    regular file. Raises :class:`ImageProblem` (``invalid_path``, ``path_escape``, ``missing_image``)."""
    path = os.fspath(path)
    if "\x00" in path:
        raise ImageProblem("invalid_path", f"{path!r}: the path holds a NUL character")
    real = os.path.realpath(path)
    if root is not None and not inside(real, os.path.realpath(os.fspath(root))):
        raise ImageProblem("path_escape", f"{path}: resolves to {real}, outside the source tree "
                                          f"{os.path.realpath(os.fspath(root))}; not opened")
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise ImageProblem("missing_image", f"{path}: image file not found") from None
    if not stat.S_ISREG(mode):
        raise ImageProblem("missing_image", f"{path}: not a regular file; not opened")
    return real


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of a file known to be regular, opened without following a link swapped in meanwhile."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ImageProblem("missing_image", f"{os.fspath(path)}: not a regular file; not opened")
        return handle.read()


def open_image(source, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image"):
    """``PIL.Image.open`` of a path or file object with the pixel limit checked from the header (nothing is
    decoded yet). Raises :class:`ImageProblem` (``image_too_large``, ``undecodable_image``)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
        except Image.DecompressionBombError as exc:
            raise ImageProblem("image_too_large", f"{name}: {exc.args[0].split(' exceeds')[0]} exceeds the pixel "
                                                  f"limit of {max_pixels:,}") from None
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for files it cannot identify
            raise ImageProblem("undecodable_image", f"{name}: image cannot be decoded ({type(exc).__name__})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageProblem("image_too_large", f"{name}: {width}x{height} = {width * height:,} pixels exceeds the "
                                              f"pixel limit of {max_pixels:,} (--max-pixels); not decoded")
    return image


def verify_image_bytes(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image") -> CheckedImage:
    """Check the pixel limit from the header, then decode ``data`` (JPEG at 1/8 scale). Raises
    :class:`ImageProblem`."""
    with open_image(io.BytesIO(data), max_pixels, name) as image:
        width, height, kind = image.width, image.height, image.format
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind in ("JPEG", "MPO"):
                    image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt data: OSError, SyntaxError, ValueError, ...
            raise ImageProblem("undecodable_image", f"{name}: image cannot be decoded ({type(exc).__name__}: "
                                                    f"{str(exc)[:80]})") from None
    return CheckedImage(width, height, kind, hashlib.sha256(data).hexdigest())


def image_extension(data: bytes, fallback: str = ".jpg") -> str:
    """The file name extension of the image in ``data`` by its real format (read from the header)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return FORMAT_EXTENSIONS.get(image.format or "", fallback)
    except Exception:  # noqa: BLE001 - not an image PIL can identify: keep the fallback
        return fallback


def check_build_image(path: str, root: str | Path | None, *, what: str) -> str:
    """The resolved path of a build's image file, or a :class:`~schemas.errors.UsageError` of one line naming
    ``what`` (the image id and split) when the containment rule refuses it."""
    from schemas.errors import UsageError

    try:
        return contained_file(path, root)
    except ImageProblem as problem:
        hint = ("rebuild from the tree as it is now" if problem.code == "missing_image"
                else "the file changed since the build; rebuild from the tree as it is now")
        raise UsageError(f"{what}: {problem.reason} ({problem.code}); {hint}") from None
