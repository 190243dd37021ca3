"""Twitter I (You et al., AAAI 2015; 1,269 tweeted images labelled positive/negative by five AMT workers), as
it unpacks::

    <root>/Agg_AMT_Candidates/<file>.jpg           (some copies: images/)
    <root>/twitter_five_agrees.txt                 (some copies: ground_truth/twitter_five_agrees.txt)
    <root>/twitter_four_agrees.txt
    <root>/twitter_three_agrees.txt

Each label file has one line per image, ``<file> <0|1>`` separated by a space, 1 = positive (the format of the
cross-validation lists in imatge-upc/sentiment-2017-imavis, ``ground_truth/<n>_agrees/test<k>/test.txt``).
The agreement level is the variant, 5 by default: 5 (all five workers agree; 882 images, as that repository's
five-fold split script states), 4 (at least four; 1,116 as papers using the set report) or 3 (at least three:
all 1,269). Entries: every line of the chosen file, and every image no label file
lists (``unlabelled``); images that only another level's file lists are outside the variant and noted as
``outside_variant``. The same file twice with one label is ``duplicate_entry``; with both labels, every one of
its lines is ``conflicting_labels``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from builder.sources.heldout.base import Candidate, HeldoutReader, is_image_name, is_relative, normalised
from builder.sources.records import QuarantineEntry
from schemas.heldout import TWITTER_CODES, TWITTER_FILES

#: Image folders, in the order they are looked for.
IMAGE_FOLDERS: tuple[str, ...] = ("Agg_AMT_Candidates", "images")
#: Where the label files may lie, relative to the root.
LABEL_FOLDERS: tuple[str, ...] = (".", "ground_truth")


def parse_lines(reader: HeldoutReader, lines: list[str], where: str, codes: dict[str, str]
                ) -> tuple[dict[str, list[tuple[int, str]]], list[QuarantineEntry]]:
    """``{key: [(line number, label), ...]}`` from ``<key> <code>`` lines (the last space separates them), and
    the lines that are not of that form."""
    listed: dict[str, list[tuple[int, str]]] = {}
    bad = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(None, 1)
        if len(parts) != 2 or parts[1] not in codes:
            bad.append(reader.reject(f"{where}:{number}", "malformed_line", f"{where}:{number}: expected "
                                     f"'<name> <{'|'.join(codes)}>', got {line.strip()!r:.120}", where))
            continue
        listed.setdefault(parts[0], []).append((number, codes[parts[1]]))
    return listed, bad


def resolve_repeats(reader: HeldoutReader, key: str, entry_id: str, seen: list[tuple[int, str]], where: str
                    ) -> tuple[str | None, list[QuarantineEntry]]:
    """The label of a key listed ``len(seen)`` times: repeats with one label are ``duplicate_entry`` (the first
    stays); two labels make every line ``conflicting_labels`` and no label."""
    labels = sorted({label for _, label in seen})
    if len(labels) > 1:
        lines = ", ".join(str(n) for n, _ in seen)
        return None, [reader.reject(entry_id, "conflicting_labels", f"{where}:{number}: {key} has labels "
                                    f"{' and '.join(labels)} (lines {lines})", where, "label") for number, _ in seen]
    return labels[0], [reader.reject(entry_id, "duplicate_entry", f"{where}:{number}: {key} is listed again "
                                     f"(first on line {seen[0][0]})", where, "id") for number, _ in seen[1:]]


class Twitter1Reader(HeldoutReader):
    dataset = "twitter1"
    title = "Twitter I"
    layout = "Agg_AMT_Candidates/ (or images/) and twitter_{five,four,three}_agrees.txt"
    variants = (5, 4, 3)

    def check_root(self) -> None:
        self.label_files = {}
        for level, name in TWITTER_FILES.items():
            for folder in LABEL_FOLDERS:
                if (self.root / folder / name).is_file():
                    self.label_files[level] = Path(folder, name).as_posix()
                    break
        if not self.label_files:
            raise self.not_this_dataset("no twitter_*_agrees.txt label file")
        if self.variant not in self.label_files:
            raise self.not_this_dataset(f"no {TWITTER_FILES[self.variant]} for the {self.variant}-agree variant "
                                        f"(looked in {self.root} and {self.root / 'ground_truth'})")
        found = [folder for folder in IMAGE_FOLDERS if (self.root / folder).is_dir()]
        if not found:
            raise self.not_this_dataset(f"no image folder ({' or '.join(IMAGE_FOLDERS)})")
        self.images = found[0]
        if len(found) > 1:
            self.note("image_folder_chosen", f"{found[0]}/ (also present: {', '.join(found[1:])})")

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        where = self.label_files[self.variant]
        found, bad = parse_lines(self, self.read_lines(self.root / where), where, TWITTER_CODES)
        yield from bad
        listed: dict[str, list[tuple[int, str]]] = {}
        for name, seen in found.items():  # ``./a.jpg`` and ``a.jpg`` name one file: repeats of one entry
            listed.setdefault(normalised(name), []).extend(seen)
        for name in sorted(listed):
            listed[name].sort()
            entry_id = f"{self.images}/{name}"
            if not is_relative(name) or "/" in name:
                yield self.reject(entry_id, "path_escape", f"{where}: {name!r} is not a file of {self.images}/; "
                                  "not opened", where, "image")
                continue
            label, repeats = resolve_repeats(self, name, entry_id, listed[name], where)
            yield from repeats
            if label is not None:
                yield Candidate(entry_id, label, f"{where}:{listed[name][0][0]}", {"agree": self.variant})
        elsewhere = set()
        for level, other in self.label_files.items():
            if level != self.variant:
                elsewhere.update(line.strip().rsplit(None, 1)[0] for line in self.read_lines(self.root / other)
                                 if line.strip())
        for item in self.listing(self.images):
            if item.is_dir(follow_symlinks=False) or not is_image_name(item.name):
                self.note("ignored_files", f"{self.images}/{item.name}")
            elif item.name in listed:
                continue
            elif item.name in elsewhere:
                self.note("outside_variant", f"{self.images}/{item.name}")
            else:
                rel = f"{self.images}/{item.name}"
                yield self.reject(rel, "unlabelled", f"{rel}: image listed in no twitter_*_agrees.txt", rel, "label")
