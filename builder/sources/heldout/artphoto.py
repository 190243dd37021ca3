"""ArtPhoto (Machajdik & Hanbury, ACM MM 2010; 806 artistic photographs), as it unpacks: one flat folder::

    <root>/<prefix>_<n>.jpg    prefix: amusement, anger, awe, contentment, disgust, excitement, fear, sad
    <root>/ReadMe.rtf          (not an image: ignored)

The label is the file-name prefix before the first ``_``; ``sad`` means sadness. Files that are not images
(the ``ReadMe.rtf``, ``Thumbs.db``) and sub-folders are ignored and noted, not quarantined. Entries: every
image file; one whose prefix names no emotion is ``unknown_label``.
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.sources.heldout.base import Candidate, HeldoutReader, is_image_name
from builder.sources.records import QuarantineEntry
from schemas.heldout import ARTPHOTO_PREFIXES

#: The label file of the Abstract set, which ships in the same form: its presence means the wrong dataset.
ABSTRACT_FILE = "ABSTRACT_groundTruth.csv"


def prefix(name: str) -> str:
    """The file-name prefix before the first ``_`` (the whole stem when there is none)."""
    return name.split("_", 1)[0] if "_" in name else name.rsplit(".", 1)[0]


class ArtPhotoReader(HeldoutReader):
    dataset = "artphoto"
    title = "ArtPhoto"
    layout = "one folder of <emotion>_<n>.jpg files (prefixes " + ", ".join(ARTPHOTO_PREFIXES) + ")"

    def check_root(self) -> None:
        if (self.root / ABSTRACT_FILE).is_file():
            raise self.not_this_dataset(f"it holds {ABSTRACT_FILE}: this is the Abstract set (task abstract)")
        self._items = self.listing(".")
        if not any(is_image_name(i.name) and prefix(i.name) in ARTPHOTO_PREFIXES for i in self._items):
            raise self.not_this_dataset("no image named <emotion>_<n>")

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        for item in self._items:
            if item.is_dir(follow_symlinks=False) or not is_image_name(item.name):
                self.note("ignored_files", item.name)
                continue
            label = ARTPHOTO_PREFIXES.get(prefix(item.name))
            if label is None:
                yield self.reject(item.name, "unknown_label", f"{item.name}: file-name prefix {prefix(item.name)!r} "
                                  f"is not an ArtPhoto emotion ({', '.join(ARTPHOTO_PREFIXES)})", item.name, "label")
            else:
                yield Candidate(item.name, label, "file-name prefix")
