"""WEBEmo (Panda et al., ECCV 2018; about 268,000 stock images), as it is released: two URL lists, ::

    <root>/train25.txt    <url> <0-24>    one line per image
    <root>/test25.txt
    <root>/images/<file>  the images, fetched by the user, each named by its URL's file name

The index is the fine-grained class in :data:`schemas.heldout.WEBEMO25` order (the original spellings, e.g.
``cheerfullness``, ``irritabilty``); each row also gets its mid-level class (``label7``, WEBEmo's 25 -> 7
hierarchy) and polarity (joy and love positive; surprise none). The split read is the variant (``test`` by
default). An image's file name is the last segment of its URL's path (no query), as saved by a plain download.

Entries: every line of the split's file, and every image in ``images/`` neither file lists (``unlabelled``).
Images that were not fetched are ``missing_image``; a URL listed twice with one label is ``duplicate_entry``
(the first stays), with several labels every one of its lines is ``conflicting_labels``; two URLs that end in the
same file name cannot both be read from one folder, so the later ones are ``file_name_clash``. URLs that the
other split lists too are kept and reported (``notes.overlap``), as are images of the other split in the folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from builder.sources.heldout.base import Candidate, HeldoutReader, is_image_name, is_relative
from builder.sources.heldout.twitter1 import parse_lines, resolve_repeats
from builder.sources.records import QuarantineEntry
from schemas.heldout import WEBEMO7_POLARITY, WEBEMO25, WEBEMO_25_TO_7

IMAGES = "images"
SPLIT_FILES: dict[str, str] = {"test": "test25.txt", "train": "train25.txt"}
#: The label index written in the files -> the class name.
INDEX_CODES: dict[str, str] = {str(index): name for index, name in enumerate(WEBEMO25)}


def file_name(url: str) -> str:
    """The file an image fetched from ``url`` is saved as: the last segment of the URL's path (``""`` for a
    string that is not a URL)."""
    try:
        return urlsplit(url).path.rsplit("/", 1)[-1]
    except ValueError:  # e.g. an unclosed IPv6 host
        return ""


class WEBEmoReader(HeldoutReader):
    dataset = "webemo"
    title = "WEBEmo"
    layout = "test25.txt / train25.txt (<url> <0-24> lines) and images/ named by each URL's file name"
    variants = ("test", "train")

    @property
    def split(self) -> str:
        return self.variant

    def check_root(self) -> None:
        own = SPLIT_FILES[self.variant]
        if not (self.root / own).is_file():
            raise self.not_this_dataset(f"no {own}")
        if not (self.root / IMAGES).is_dir():
            raise self.not_this_dataset(f"no {IMAGES}/ folder: fetch the images, each saved under its URL's file "
                                        f"name, into {self.root / IMAGES}")

    def _other_urls(self) -> set[str]:
        other = SPLIT_FILES["train" if self.variant == "test" else "test"]
        if not (self.root / other).is_file():
            self.notes["overlap_checked"] = False
            return set()
        self.notes["overlap_checked"] = True
        return {line.strip().rsplit(None, 1)[0] for line in self.read_lines(self.root / other) if line.strip()}

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        where = SPLIT_FILES[self.variant]
        listed, bad = parse_lines(self, self.read_lines(self.root / where), where, INDEX_CODES)
        yield from bad
        other_urls = self._other_urls()
        owners: dict[str, str] = {}
        claimed: set[str] = set()  # file names this split's lines account for, read or quarantined
        for url in listed:
            name = file_name(url)
            entry_id = f"{IMAGES}/{name}" if name else f"{where}:{listed[url][0][0]}"
            if not name or not is_relative(name):
                yield self.reject(entry_id, "malformed_line", f"{where}:{listed[url][0][0]}: URL {url!r} has no "
                                  "file name to look for", where, "url")
                continue
            label, repeats = resolve_repeats(self, url, entry_id, listed[url], where)
            yield from repeats
            claimed.add(name)
            if label is None:
                continue
            if name in owners:
                yield self.reject(entry_id, "file_name_clash", f"{where}:{listed[url][0][0]}: {url} saves as {name}, "
                                  f"as {owners[name]} does; only the first is read", where, "url")
                continue
            owners[name] = url
            if url in other_urls:
                self.note("overlap", url)
            yield Candidate(entry_id, label, f"{where}:{listed[url][0][0]}",
                            {"url": url, "split": self.variant, "label7": WEBEMO_25_TO_7[label],
                             "polarity": WEBEMO7_POLARITY[WEBEMO_25_TO_7[label]]})
        other_names = {file_name(url) for url in other_urls}
        for item in self.listing(IMAGES):
            rel = f"{IMAGES}/{item.name}"
            if item.is_dir(follow_symlinks=False) or not is_image_name(item.name):
                self.note("ignored_files", rel)
            elif item.name in claimed:
                continue
            elif item.name in other_names:
                self.note("other_split_images", rel)
            else:
                yield self.reject(rel, "unlabelled", f"{rel}: image named by no URL of {', '.join(SPLIT_FILES.values())}",
                                  rel, "label")
