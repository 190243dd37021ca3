"""Readers of the held-out emotion datasets, one module per dataset, each reading the archive as its authors
ship it into one validated sample table (see :mod:`schemas.heldout`) plus a quarantine:

============ =====================================================================================
emotion6     :mod:`~builder.sources.heldout.emotion6`    ``ground_truth.txt`` + ``images/<emotion>/``
fi           :mod:`~builder.sources.heldout.fi`          ``emotion_dataset/<emotion>/``
artphoto     :mod:`~builder.sources.heldout.artphoto`    one folder, label = file-name prefix
abstract     :mod:`~builder.sources.heldout.abstract`    ``ABSTRACT_groundTruth.csv`` vote counts
unbiasedemo  :mod:`~builder.sources.heldout.unbiasedemo` ``images/<emotion>/<object>/``
twitter1     :mod:`~builder.sources.heldout.twitter1`    ``twitter_*_agrees.txt`` + ``Agg_AMT_Candidates/``
webemo       :mod:`~builder.sources.heldout.webemo`      ``test25.txt``/``train25.txt`` URL lists + ``images/``
============ =====================================================================================

::

    from builder.sources.heldout import read_heldout
    read = read_heldout("emotion6", "Emotion6")     # .table (pandas), .quarantined, .entries, .summary()
"""

from __future__ import annotations

from pathlib import Path

from builder.sources.heldout.abstract import AbstractReader
from builder.sources.heldout.artphoto import ArtPhotoReader
from builder.sources.heldout.base import HeldoutRead, HeldoutReader, HeldoutRootError
from builder.sources.heldout.emotion6 import Emotion6Reader
from builder.sources.heldout.fi import FIReader
from builder.sources.heldout.twitter1 import Twitter1Reader
from builder.sources.heldout.unbiasedemo import UnBiasedEmoReader
from builder.sources.heldout.webemo import WEBEmoReader
from schemas.errors import UsageError

READERS: dict[str, type[HeldoutReader]] = {reader.dataset: reader for reader in (
    Emotion6Reader, FIReader, ArtPhotoReader, AbstractReader, UnBiasedEmoReader, Twitter1Reader, WEBEmoReader)}


def reader_for(dataset: str) -> type[HeldoutReader]:
    """The reader class of ``dataset``; one clear error for an unknown name."""
    if dataset not in READERS:
        raise UsageError(f"unknown held-out dataset {dataset!r}; known: {', '.join(READERS)}")
    return READERS[dataset]


def read_heldout(dataset: str, root: str | Path, *, variant=None, verify_images: bool = False) -> HeldoutRead:
    """Read ``dataset`` from ``root`` (its variant, e.g. Twitter I's agreement level; ``None``: the default)."""
    return reader_for(dataset)(root, variant=variant, verify_images=verify_images).read()


__all__ = ["READERS", "HeldoutRead", "HeldoutReader", "HeldoutRootError", "read_heldout", "reader_for"]
