"""Small synthetic trees in the exact layouts the held-out emotion datasets ship in (``emovit synth --layout``),
for tests and the offline demo. Images come from the EmoSet painter (:mod:`builder.sources.painter`): each
dataset label is painted with the signal of a related EmoSet emotion (:data:`PAINT`), so a tiny model trained on
synthetic EmoSet data has something to transfer.

Each tree carries the traps of the real archive: Emotion6's bracketed header line; ArtPhoto's ``sad_`` prefix
and ``ReadMe.rtf``; Abstract's single-quoted CSV with one painting whose top vote is tied; UnBiasedEmo's object
folders and file names with spaces (the same name under several folders); Twitter I's three nested agreement
files; WEBEmo's URL lists with an image never fetched, a URL listed twice, a URL with two labels and a URL in both
splits. :func:`write_layout` returns what a reader must find (entries, rows, quarantine codes) and saves it, with
the options, as ``layout.json`` in the tree.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from builder.sources.painter import render_image
from schemas.errors import UsageError
from schemas.heldout import (
    ABSTRACT_COLUMNS,
    ARTPHOTO_PREFIXES,
    DATASETS,
    EMOTION6,
    EMOTION6_DISTRIBUTION,
    MIKELS,
    TWITTER_FILES,
    UNBIASEDEMO,
    WEBEMO7_POLARITY,
    WEBEMO25,
    WEBEMO_25_TO_7,
)

#: The EmoSet emotion whose synthetic signal paints each dataset label (Mikels labels paint themselves).
PAINT: dict[str, str] = {
    **{name: name for name in MIKELS}, "joy": "amusement", "love": "contentment", "surprise": "excitement",
    "confusion": "disgust", "positive": "amusement", "negative": "sadness",
}
#: UnBiasedEmo-style object folders, shared by every emotion (the dataset's point: objects without bias).
OBJECTS: tuple[str, ...] = ("dog", "baby", "group of people")
README_RTF = b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Helvetica;}}\\f0 ArtPhoto: emotion is the file-name prefix.\\par}\n"
WEBEMO_HOST = "https://stock.example.org/photos"


@dataclass(frozen=True)
class LayoutConfig:
    """Options of one synthetic layout tree (saved in its ``layout.json``)."""

    layout: str
    per_class: int = 3
    seed: int = 0
    image_size: int = 32

    def __post_init__(self) -> None:
        if self.layout not in DATASETS:
            raise UsageError(f"unknown layout {self.layout!r}; choose one of {', '.join(DATASETS)}")
        if self.per_class < 1:
            raise UsageError(f"per_class must be >= 1 for a layout tree, got {self.per_class}")
        if self.image_size < 8:
            raise UsageError(f"image_size must be >= 8, got {self.image_size}")


class _Writer:
    def __init__(self, root: Path, config: LayoutConfig):
        self.root, self.config, self.images = root, config, 0

    def image(self, rel: str, label: str) -> None:
        key = zlib.crc32(f"{self.config.layout}:{rel}".encode())
        rng = np.random.default_rng([self.config.seed, key])
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        render_image(PAINT[label], rng, self.config.image_size).save(path, format="JPEG", quality=90)
        self.images += 1

    def text(self, rel: str, lines: list[str], newline: str = "\n") -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((newline.join(lines) + newline).encode("utf-8"))

    def rng(self, key: str) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, zlib.crc32(key.encode())])


def _expected(rows: int, **codes: int) -> dict:
    codes = {code: count for code, count in sorted(codes.items()) if count}
    return {"entries": rows + sum(codes.values()), "rows": rows, "quarantined": sum(codes.values()),
            "quarantine_codes": codes}


def _emotion6(w: _Writer, n: int) -> dict:
    lines = ["\t".join(f"[{name}]" for name in ("image_filename", "valence", "arousal",
                                                  *(f"prob. {e}" for e in EMOTION6_DISTRIBUTION)))]
    for emotion in EMOTION6:
        for number in range(1, n + 1):
            name = f"{emotion}/{number}.jpg"
            w.image(f"images/{name}", emotion)
            rng = w.rng(name)
            weights = np.full(len(EMOTION6_DISTRIBUTION), 0.4 / (len(EMOTION6_DISTRIBUTION) - 1))
            weights[EMOTION6.index(emotion)] = 0.6
            votes = rng.multinomial(15, weights)  # 15 responses per image, as Emotion6's user study collected
            valence, arousal = (round(float(v), 1) for v in rng.uniform(1.0, 9.0, 2))
            lines.append("\t".join([name, f"{valence:g}", f"{arousal:g}", *(f"{c / 15:.6g}" for c in votes)]))
    w.text("ground_truth.txt", lines)
    return _expected(len(EMOTION6) * n)


def _fi(w: _Writer, n: int) -> dict:
    for emotion in MIKELS:
        for number in range(n):
            w.image(f"emotion_dataset/{emotion}/{emotion}_{number:04d}.jpg", emotion)
    return _expected(len(MIKELS) * n)


def _artphoto(w: _Writer, n: int) -> dict:
    for prefix, emotion in ARTPHOTO_PREFIXES.items():
        for number in range(1, n + 1):
            w.image(f"{prefix}_{number}.jpg", emotion)
    (w.root / "ReadMe.rtf").write_bytes(README_RTF)
    return _expected(len(ARTPHOTO_PREFIXES) * n)


def _abstract(w: _Writer, n: int) -> dict:
    """Paintings ``abstract_0001.jpg`` ... cycling through the eight classes, 14 votes each (as the set's raters
    gave): 8 for the painted class and 6 spread over the others, so it wins outright; except that the first
    painting, when there is more than one per class, has 6 and 6 for its class and the next: a tied top vote."""
    rows = ["''," + ",".join(f"'{name}'" for name in ABSTRACT_COLUMNS)]
    total = len(MIKELS) * n
    tied = 1 if n > 1 else 0
    for number in range(1, total + 1):
        index = (number - 1) % len(MIKELS)
        name = f"abstract_{number:04d}.jpg"
        w.image(name, MIKELS[index])
        votes = [0] * len(MIKELS)
        if number <= tied:
            votes[index] = votes[(index + 1) % len(MIKELS)] = 6
        else:
            votes[index] = 8
        others = [i for i, v in enumerate(votes) if v == 0]
        for slot in w.rng(name).choice(others, size=14 - sum(votes)):
            votes[int(slot)] += 1
        rows.append(f"'{name}'," + ",".join(map(str, votes)))
    w.text("ABSTRACT_groundTruth.csv", rows)
    return _expected(total - tied, tied_votes=tied)


def _unbiasedemo(w: _Writer, n: int) -> dict:
    for emotion in UNBIASEDEMO:
        for number in range(n):
            obj = OBJECTS[number % len(OBJECTS)]
            w.image(f"images/{emotion}/{obj}/{obj} {number // len(OBJECTS) + 1}.jpg", emotion)
    return _expected(len(UNBIASEDEMO) * n)


def _twitter_name(polarity: str, number: int) -> str:
    user = 100000 + 37 * number + (0 if polarity == "positive" else 7)
    return f"{user}_{466000000000000000 + 1000 * number + (1 if polarity == 'positive' else 2)}_Bn{number:04d}x.jpg"


def _twitter1(w: _Writer, n: int) -> dict:
    """``n`` images per polarity; image k has agreement level 5, 4, 3, 5, ... so the three files nest."""
    listed: dict[int, list[str]] = {level: [] for level in TWITTER_FILES}
    for polarity, code in (("positive", "1"), ("negative", "0")):
        for number in range(n):
            name = _twitter_name(polarity, number)
            w.image(f"Agg_AMT_Candidates/{name}", polarity)
            level = (5, 4, 3)[number % 3]
            for threshold in TWITTER_FILES:
                if level >= threshold:
                    listed[threshold].append(f"{name} {code}")
    for level, name in TWITTER_FILES.items():
        w.text(name, listed[level])
    return {str(level): _expected(len(listed[level])) for level in TWITTER_FILES}


def _webemo(w: _Writer, n: int) -> dict:
    """``n`` test and ``n`` train URLs per class; test images fetched into ``images/``, except the first. The
    second test URL is listed twice; one more URL is listed with two labels; the third is also in train."""
    test, train = [], []
    serial = 0
    for index in range(len(WEBEMO25)):
        for _ in range(n):
            serial += 1
            test.append((f"{WEBEMO_HOST}/{index:02d}/{serial:06d}.jpg", index))
            train.append((f"{WEBEMO_HOST}/{index:02d}/{900000 + serial:06d}.jpg", index))
    conflicting = f"{WEBEMO_HOST}/mixed/{serial + 1:06d}.jpg"
    for position, (url, index) in enumerate(test):
        if position > 0:
            w.image(f"images/{url.rsplit('/', 1)[-1]}", WEBEMO_25_TO_7[WEBEMO25[index]])
    w.image(f"images/{conflicting.rsplit('/', 1)[-1]}", "joy")
    train.append(test[2])
    lines = [f"{url} {index}" for url, index in test]
    lines.insert(2, lines[1])
    lines += [f"{conflicting} 1", f"{conflicting} 19"]
    w.text("test25.txt", lines)
    w.text("train25.txt", [f"{url} {index}" for url, index in train])
    rows = len(test) - 1
    positive = sum(1 for _, index in test[1:] if WEBEMO7_POLARITY[WEBEMO_25_TO_7[WEBEMO25[index]]] == "positive")
    return {**_expected(rows, missing_image=1, duplicate_entry=1, conflicting_labels=2), "overlap": 1,
            "positive_rows": positive}


_WRITERS = {"emotion6": _emotion6, "fi": _fi, "artphoto": _artphoto, "abstract": _abstract,
            "unbiasedemo": _unbiasedemo, "twitter1": _twitter1, "webemo": _webemo}


def write_layout(out: str | Path, config: LayoutConfig) -> dict:
    """Write a ``config.layout`` tree under ``out`` (which must be new or empty); returns and saves (in
    ``layout.json``) the options, the images written and what a reader must find."""
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"{root}: exists and is not an empty folder; give a new --out")
    root.mkdir(parents=True, exist_ok=True)
    writer = _Writer(root, config)
    expected = _WRITERS[config.layout](writer, config.per_class)
    summary = {"config": asdict(config), "images": writer.images, "expected": expected}
    (root / "layout.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


__all__ = ["PAINT", "LayoutConfig", "write_layout"]
