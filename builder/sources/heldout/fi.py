"""FI, the Flickr and Instagram emotion dataset (You et al., AAAI 2016; about 23,000 images), as it unpacks::

    <root>/emotion_dataset/<emotion>/<file>.jpg    amusement, anger, awe, contentment, disgust, excitement,
                                                   fear, sadness (lower case)

The gold label is the folder. FI has no official split: the whole set is read. Entries: every image file under
``emotion_dataset/``; one in a folder that is not one of the eight is ``unknown_label``, one directly in
``emotion_dataset/`` is ``unlabelled``; other files are ignored and noted.
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.sources.heldout.base import Candidate, HeldoutReader
from builder.sources.records import QuarantineEntry
from schemas.heldout import MIKELS

FOLDER = "emotion_dataset"


class FIReader(HeldoutReader):
    dataset = "fi"
    title = "FI"
    layout = f"{FOLDER}/<emotion>/<file>.jpg with the eight Mikels emotions"

    def check_root(self) -> None:
        if not (self.root / FOLDER).is_dir():
            if any((self.root / name).is_dir() for name in MIKELS):
                raise self.not_this_dataset(f"this looks like the {FOLDER}/ folder itself; give the folder that "
                                            f"holds {FOLDER}/")
            raise self.not_this_dataset(f"no {FOLDER}/ folder")
        if not any((self.root / FOLDER / name).is_dir() for name in MIKELS):
            raise self.not_this_dataset(f"{FOLDER}/ has none of the folders {', '.join(MIKELS)}")

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        return self.class_folder_images(FOLDER, MIKELS)
