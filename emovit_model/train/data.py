"""Training and validation rows from a built dataset."""

from __future__ import annotations

from pathlib import Path

from emovit_model.train.config import TrainConfig
from schemas.errors import UsageError
from schemas.features import column


def load_splits(config: TrainConfig):
    """``(train, val)`` from the built dataset (``val`` is ``None`` when the split is absent)."""
    from builder.dataset.stored import load_built

    path = Path(config.dataset)
    built = load_built(path)
    if "train" not in built:
        raise UsageError(f"{path}: expected a DatasetDict with a 'train' split")
    train = built["train"]
    missing = {"image", "conversations", "emotion", "kind"} - set(train.column_names)
    if missing:
        raise UsageError(f"{path}: train split lacks column(s) {', '.join(sorted(missing))}")
    wanted = set(config.kinds)
    if set(train.unique("kind")) - wanted:
        train = train.filter(lambda kind: kind in wanted, input_columns="kind")
    if config.train_fraction < 1:
        train = image_fraction(train, config.train_fraction, config.seed)
    if config.train_limit is not None:
        train = train.select(range(min(config.train_limit, len(train))))
    if len(train) == 0:
        raise UsageError(f"{path}: no training rows of kind {', '.join(config.kinds)}")
    val = built.get("val")
    if val is not None:
        val = distinct_images(val, config.eval_limit)
    return undecoded(train), None if val is None else undecoded(val)


def undecoded(split):
    """``split`` with its images left as ``{bytes, path}``: the collator decodes them itself, under the pixel
    limit, and names the row of an image that does not decode (``datasets`` would decode every image first,
    whatever its size, and fail with no row named)."""
    import datasets

    feature = split.features.get("image")
    if isinstance(feature, datasets.Image) and feature.decode:
        return split.cast_column("image", datasets.Image(decode=False))
    return split


def distinct_images(split, limit: int | None = None):
    """The first row of every distinct ``image_id`` (an image may carry several instruction rows)."""
    seen, keep = set(), []
    for index, image_id in enumerate(column(split, "image_id")):
        if image_id not in seen:
            seen.add(image_id)
            keep.append(index)
            if limit is not None and len(keep) >= limit:
                break
    return split.select(keep) if len(keep) < len(split) else split


def gold_labels(split) -> list[str]:
    """The emotion of every row of ``split`` as a label string."""
    names = split.features["emotion"]
    return [names.int2str(v) if isinstance(v, int) else v for v in column(split, "emotion")]


def image_fraction(split, fraction: float, seed: int):
    """The rows of a seeded ``fraction`` of the images of each emotion (every row of a chosen image is kept,
    in the split's order; at least one image per emotion present). Nested: with the same seed, the images of
    a smaller fraction are among those of a larger one, so a scaling curve adds data rather than swapping it.
    """
    import numpy as np

    images: dict[int, set[str]] = {}
    for image_id, label in zip(column(split, "image_id"), column(split, "emotion")):
        images.setdefault(label, set()).add(image_id)
    chosen: set[str] = set()
    for label in sorted(images):
        ids = sorted(images[label])
        order = np.random.default_rng([seed, label]).permutation(len(ids))
        keep = max(1, round(fraction * len(ids)))
        chosen.update(ids[i] for i in order[:keep])
    keep_rows = [i for i, image_id in enumerate(column(split, "image_id")) if image_id in chosen]
    return split.select(keep_rows)
