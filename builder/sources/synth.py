"""Synthetic EmoSet-format trees with a learnable, class-dependent visual signal.

Each emotion owns a hue and a stripe orientation/frequency; every image draws its own saturation, value
and phase, so brightness and colorfulness vary. The annotation's ``brightness`` and ``colorfulness`` are
computed from the written JPEG's pixels (see :mod:`builder.sources.pixels`), so annotations match pixels. Scene,
objects, facial expression and human action come from small per-emotion pools of EmoSet vocabulary labels.
The same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from builder.sources.painter import render_image
from builder.sources.pixels import pixel_attributes
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS, Vocabulary

#: Per-emotion pools of (scenes, objects, human actions), every label in EmoSet's vocabulary.
ATTRIBUTE_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "amusement": (("amusement_park", "playground", "water_park", "carrousel", "arcade"),
                  ("Balloon", "Toy", "Dog", "Cat", "Cake"), ("laughing", "juggling balls", "cheerleading")),
    "awe": (("mountain", "glacier", "waterfall", "sky", "ocean", "canyon"),
            ("Tree", "Building", "Castle", "Bird"), ("rock climbing", "skydiving", "ice climbing")),
    "contentment": (("beach", "lake", "coffee_shop", "field", "forest_path"),
                    ("Flower", "Coffee cup", "Book", "Cat", "Plant", "Tea"), ("reading book", "knitting", "yoga")),
    "excitement": (("stadium", "stage", "arena", "ski_slope", "discotheque"),
                   ("Car", "Ball", "Motorcycle", "Guitar", "Horse"),
                   ("dancing ballet", "surfing water", "skiing", "playing guitar", "cheerleading")),
    "anger": (("street", "crosswalk", "boxing_ring", "office", "parking_lot"),
              ("Car", "Weapon", "Rifle", "Fireplace"), ("punching bag", "slapping", "wrestling", "headbutting")),
    "disgust": (("landfill", "swamp", "kitchen", "alley"),
                ("Insect", "Food", "Worm", "Waste container"), ("eating burger", "cleaning toilet", "tossing salad")),
    "fear": (("forest_path", "alley", "catacomb", "corridor", "cemetery"),
             ("Spider", "Snake", "Skull", "Knife"), ("bungee jumping", "crying", "jumping into pool")),
    "sadness": (("hospital_room", "cemetery", "rainforest", "bedroom", "train_station", "street"),
                ("Umbrella", "Flower", "Window", "Candle"), ("crying", "hugging", "kissing")),
}
#: Facial expression most typical of each emotion (EmoSet uses the six basic expressions).
TYPICAL_EXPRESSION = {
    "amusement": "happy", "awe": "surprise", "contentment": "happy", "excitement": "surprise",
    "anger": "angry", "disgust": "disgust", "fear": "fear", "sadness": "sad",
}


@dataclass(frozen=True)
class SynthConfig:
    """Options of one synthetic tree (saved as ``synth_config.json`` beside the tree)."""

    per_class: int = 20
    seed: int = 0
    splits: tuple[str, ...] = ("train", "val", "test")
    image_size: int = 32
    jpeg_quality: int = 90
    entry_fields: int = 3
    split_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.per_class < 0:
            raise UsageError(f"per_class must be >= 0, got {self.per_class}")
        if self.image_size < 8:
            raise UsageError(f"image_size must be >= 8, got {self.image_size}")
        if self.entry_fields not in (3, 4):
            raise UsageError(f"entry_fields must be 3 or 4, got {self.entry_fields}")
        if not self.splits and not self.split_files:
            raise UsageError("nothing to write: give splits or split_files")


def _rng(seed: int, key: str) -> np.random.Generator:
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def _annotation(emotion: str, rng: np.random.Generator, jpeg: bytes) -> dict:
    scenes, objects, actions = ATTRIBUTE_POOLS[emotion]
    levels = pixel_attributes(Image.open(io.BytesIO(jpeg)))
    annotation: dict = {"emotion": emotion, "brightness": levels.brightness, "colorfulness": levels.colorfulness}
    if rng.random() < 0.95:
        annotation["scene"] = scenes[rng.integers(len(scenes))]
    if rng.random() < 0.9:
        count = int(rng.integers(1, 4))
        annotation["object"] = [objects[i] for i in sorted(rng.choice(len(objects), count, replace=False))]
    if rng.random() < 0.4:
        annotation["facial_expression"] = TYPICAL_EXPRESSION[emotion]
    if rng.random() < 0.4:
        annotation["human_action"] = actions[rng.integers(len(actions))]
    return annotation


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_sample(root: Path, emotion: str, image_rel: str, annotation_rel: str, key: str, config: SynthConfig) -> None:
    """Write one image and its annotation, seeded by ``key``."""
    rng = _rng(config.seed, key)
    buffer = io.BytesIO()
    render_image(emotion, rng, config.image_size).save(buffer, format="JPEG", quality=config.jpeg_quality)
    jpeg = buffer.getvalue()
    _write(root / image_rel, jpeg)
    _write(root / annotation_rel, json.dumps(_annotation(emotion, rng, jpeg)).encode())


def _entries_for_split(config: SynthConfig, split_index: int, split: str) -> list[list[str]]:
    entries = []
    for emotion in EMOTIONS:
        for i in range(config.per_class):
            number = split_index * config.per_class + i
            stem = f"{emotion}_{number:05d}"
            entry = [emotion, f"image/{emotion}/{stem}.jpg", f"annotation/{emotion}/{stem}.json"]
            if config.entry_fields == 4:
                entry.insert(1, stem)
            entries.append(entry)
    order = _rng(config.seed, f"order:{split}").permutation(len(entries))
    return [entries[i] for i in order]


def _load_split_file(path: Path) -> list[list[str]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read split file ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: split file is not valid JSON ({exc})") from None
    if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) in (3, 4) for e in entries):
        raise UsageError(f"{path}: expected a JSON list of 3- or 4-field entries")
    return entries


def synthesise(out: str | Path, config: SynthConfig, *, progress: bool = True) -> dict[str, int]:
    """Write a synthetic EmoSet tree under ``out``; returns the number of entries per split."""
    from tqdm.auto import tqdm

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    plan: dict[str, list[list[str]]] = {}
    for index, split in enumerate(config.splits):
        plan[split] = _entries_for_split(config, index, split)
    for split_file in config.split_files:
        path = Path(split_file)
        plan[path.stem] = _load_split_file(path)
    for entries in plan.values():
        for entry in entries:
            if any(os.path.isabs(p) or ".." in Path(p).parts for p in entry[-2:]):
                raise UsageError(f"synthetic entry {entry!r} would escape the root")
    _write(root / "info.json", (json.dumps(Vocabulary.default().info_json(), indent=1) + "\n").encode())
    total = sum(len(e) for e in plan.values())
    with tqdm(total=total, desc="synth", unit="img", disable=not progress) as bar:
        for split, entries in plan.items():
            for entry in entries:
                emotion, image_rel, annotation_rel = entry[0], entry[-2], entry[-1]
                write_sample(root, emotion, image_rel, annotation_rel, annotation_rel, config)
                bar.update()
            _write(root / f"{split}.json", json.dumps(entries).encode())
    config_doc = asdict(config) | {"split_files": [Path(p).name for p in config.split_files]}
    _write(root / "synth_config.json", (json.dumps(config_doc, indent=2, sort_keys=True) + "\n").encode())
    return {split: len(entries) for split, entries in plan.items()}


def add_arguments(parser) -> None:
    from schemas.heldout import DATASETS

    parser.add_argument("--out", required=True, help="directory to write the tree into")
    parser.add_argument("--layout", choices=DATASETS, default=None,
                        help="write a held-out dataset's layout instead of an EmoSet tree (exact file names and "
                             "label files, with the archive's traps); --per-class, --seed and --image-size apply")
    parser.add_argument("--per-class", type=int, default=None,
                        help="images per emotion in each split (default 20; with --layout 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", default=None,
                        help="comma-separated split names (default train,val,test; none when --split-file is given)")
    parser.add_argument("--split-file", action="append", default=[],
                        help="lay the tree out for a real split file (repeatable); its stem names the split")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--entry-fields", type=int, choices=(3, 4), default=3,
                        help="split entries as [emotion, image, annotation] (3) or [emotion, id, image, annotation] (4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_layout(args) -> int:
    from builder.sources.layouts import LayoutConfig, write_layout

    if args.splits is not None or args.split_file or args.entry_fields != 3:
        raise UsageError("--splits, --split-file and --entry-fields describe EmoSet trees; drop them with --layout")
    config = LayoutConfig(layout=args.layout, per_class=3 if args.per_class is None else args.per_class,
                          seed=args.seed, image_size=args.image_size)
    summary = write_layout(args.out, config)
    expected = summary["expected"]
    if args.layout == "twitter1":
        counts = ", ".join(f"{level}-agree {e['rows']} rows" for level, e in expected.items())
    else:
        codes = ", ".join(f"{code} {n}" for code, n in expected["quarantine_codes"].items())
        counts = f"{expected['entries']} entries: {expected['rows']} rows" + (f", quarantined {codes}" if codes else "")
    print(f"{args.layout} layout, {summary['images']} images ({counts}) -> {args.out}")
    return 0


def run(args) -> int:
    if args.layout is not None:
        return _run_layout(args)
    if args.splits is None:
        splits = () if args.split_file else ("train", "val", "test")
    else:
        splits = tuple(s for s in args.splits.split(",") if s)
    config = SynthConfig(per_class=20 if args.per_class is None else args.per_class, seed=args.seed, splits=splits,
                         image_size=args.image_size, entry_fields=args.entry_fields,
                         split_files=tuple(args.split_file))
    counts = synthesise(args.out, config, progress=not args.quiet)
    print(" ".join(f"{split}={n}" for split, n in counts.items()), "->", args.out)
    return 0
