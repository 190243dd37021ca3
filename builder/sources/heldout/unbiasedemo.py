"""UnBiasedEmo (Panda et al., ECCV 2018), as it unpacks (the archive holds ``images.zip``: unzip it too)::

    <root>/images/<emotion>/<object>/<file>.jpg    anger, fear, joy, love, sadness, surprise

The same objects appear under different emotions, which is the point of the set (emotion without object bias);
file names may contain spaces, and the same file name recurs under different folders, so the id is the whole
relative path. The gold label is the emotion folder; the object folder is kept as ``object`` (null for an image
directly in its emotion folder). Entries: every image file under ``images/``; one in a folder that is not one of
the six emotions is ``unknown_label``.
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.sources.heldout.base import Candidate, HeldoutReader
from builder.sources.records import QuarantineEntry
from schemas.heldout import UNBIASEDEMO

IMAGES = "images"


class UnBiasedEmoReader(HeldoutReader):
    dataset = "unbiasedemo"
    title = "UnBiasedEmo"
    layout = f"{IMAGES}/<emotion>/<object>/<file>.jpg with emotions {', '.join(UNBIASEDEMO)}"

    def check_root(self) -> None:
        if not (self.root / IMAGES).is_dir():
            if (self.root / f"{IMAGES}.zip").is_file():
                raise self.not_this_dataset(f"{IMAGES}.zip is still packed: unzip it into {self.root}")
            raise self.not_this_dataset(f"no {IMAGES}/ folder")
        if not any((self.root / IMAGES / name).is_dir() for name in UNBIASEDEMO):
            raise self.not_this_dataset(f"{IMAGES}/ has none of the folders {', '.join(UNBIASEDEMO)}")

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        return self.class_folder_images(IMAGES, UNBIASEDEMO, _object_folder)


def _object_folder(image: str) -> dict:
    """``images/<emotion>/<object>/<file>`` -> the object folder (None for an image right in its emotion folder)."""
    parts = image.split("/")
    return {"object": parts[2] if len(parts) > 3 else None}
