"""Emotion6 (Peng et al., CVPR 2015; 1,980 Flickr images, 330 per class), as its archive unpacks::

    <root>/ground_truth.txt          header line, then one tab-separated line per image
    <root>/images/<emotion>/<n>.jpg  anger, disgust, fear, joy, sadness, surprise

The archive's ``readme.txt`` gives the header as ``[image_filename] [valence] [arousal] [prob. anger]
[prob. disgust] [prob. fear] [prob. joy] [prob. sadness] [prob. surprise] [prob. neutral]`` and a line as
``disgust/1.jpg<TAB>2.5<TAB>3.8<TAB>0.133333<TAB>0.7<TAB>0<TAB>0.0666667<TAB>0.1<TAB>0<TAB>0``: file names are
relative to ``images/``. The gold label is the folder (the search keyword); valence, arousal (1-9) and the
seven-way distribution are kept. Columns are found by their bracketed header names, so the distribution can
never be read one column late (the first probability is column 4, not 5); without a header line the
documented order is used and the absence is noted.

Entries: every line of ``ground_truth.txt`` and every image under ``images/<emotion>/`` that no line lists
(``unlabelled``). A line whose image is absent is ``missing_image``; a folder that is not one of the six,
``unknown_label``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from builder.sources.heldout.base import Candidate, HeldoutReader, is_relative, normalised
from builder.sources.records import QuarantineEntry
from schemas.heldout import EMOTION6, EMOTION6_DISTRIBUTION, prob_column

LABEL_FILE = "ground_truth.txt"
IMAGES = "images"
#: The header names in the documented column order.
HEADER: tuple[str, ...] = ("image_filename", "valence", "arousal",
                           *(f"prob. {name}" for name in EMOTION6_DISTRIBUTION))
_BRACKETED = re.compile(r"\[([^\]]*)\]")


class Emotion6Reader(HeldoutReader):
    dataset = "emotion6"
    title = "Emotion6"
    layout = f"{LABEL_FILE} and {IMAGES}/<emotion>/<n>.jpg"

    def check_root(self) -> None:
        if not (self.root / LABEL_FILE).is_file():
            raise self.not_this_dataset(f"no {LABEL_FILE}")
        if not (self.root / IMAGES).is_dir():
            raise self.not_this_dataset(f"no {IMAGES}/ folder")

    def _columns(self, first: str) -> tuple[dict[str, int], bool]:
        """Column index of every header name, and whether ``first`` was the header line."""
        names = [name.strip() for name in _BRACKETED.findall(first)]
        if not first.lstrip().startswith("["):
            self.note("no_header_line", LABEL_FILE)
            return {name: index for index, name in enumerate(HEADER)}, False
        missing = [name for name in HEADER if name not in names]
        if missing:
            raise self.not_this_dataset(f"{LABEL_FILE} line 1: header has no "
                                        + ", ".join(f"[{name}]" for name in missing))
        return {name: names.index(name) for name in HEADER}, True

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        lines = self.read_lines(self.root / LABEL_FILE)
        columns, has_header = self._columns(lines[0] if lines else "")
        width = max(columns.values()) + 1
        listed: dict[str, Candidate | QuarantineEntry] = {}
        for number, line in enumerate(lines[1:] if has_header else lines, start=2 if has_header else 1):
            if not line.strip():
                continue
            where = f"{LABEL_FILE}:{number}"
            fields = line.split("\t") if "\t" in line else line.split()
            name = normalised(fields[columns["image_filename"]].strip()) if len(fields) > columns["image_filename"] \
                else ""
            entry_id = f"{IMAGES}/{name}" if name else where
            if entry_id in listed:
                yield self.reject(entry_id, "duplicate_entry", f"{where}: {name} is listed again", LABEL_FILE, "id")
                continue
            listed[entry_id] = self._entry(entry_id, name, fields, columns, width, where)
        found = set()
        for folder in self.listing(IMAGES):
            if folder.is_dir(follow_symlinks=False):
                found.update(self.walk_images(f"{IMAGES}/{folder.name}"))
            else:
                self.note("ignored_files", f"{IMAGES}/{folder.name}")
        for entry_id in sorted(set(listed) | found):
            if entry_id in listed:
                yield listed[entry_id]
            else:
                yield self.reject(entry_id, "unlabelled", f"{entry_id}: image not listed in {LABEL_FILE}", entry_id,
                                  "label")

    def _entry(self, entry_id: str, name: str, fields: list[str], columns: dict[str, int], width: int,
               where: str) -> Candidate | QuarantineEntry:
        if len(fields) != width:
            return self.reject(entry_id, "malformed_line", f"{where}: expected {width} tab-separated fields, got "
                               f"{len(fields)}", LABEL_FILE)
        try:
            values = {key: float(fields[index]) for key, index in columns.items() if key != "image_filename"}
        except ValueError as exc:
            return self.reject(entry_id, "malformed_line", f"{where}: {exc}", LABEL_FILE)
        if not is_relative(name):
            return self.reject(entry_id, "path_escape", f"{where}: {name!r} leaves the images/ folder; not opened",
                               LABEL_FILE, "image")
        folder = name.split("/", 1)[0] if "/" in name else ""
        if folder not in EMOTION6:
            return self.reject(entry_id, "unknown_label", f"{where}: {name!r} is not under one of the six emotion "
                               f"folders ({', '.join(EMOTION6)})", LABEL_FILE, "label")
        extra = {"valence": values["valence"], "arousal": values["arousal"]}
        extra.update({prob_column(n): values[f"prob. {n}"] for n in EMOTION6_DISTRIBUTION})
        return Candidate(entry_id, folder, where, extra)
