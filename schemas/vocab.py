"""EmoSet attribute vocabularies (from a tree's ``info.json`` or the copy shipped as package data)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

#: EmoSet's eight emotion classes in ``info.json`` index order (the four positive classes first).
EMOTIONS: tuple[str, ...] = (
    "amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness",
)

#: Attribute keys of ``info.json``, in file order.
INFO_KEYS: tuple[str, ...] = (
    "emotion", "brightness", "colorfulness", "scene", "object", "facial_expression", "human_action",
)

_SCENE_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_scene(value: str) -> str:
    """Canonical form of a Places365 scene name: lower case, runs of spaces/underscores/hyphens -> ``_``."""
    return _SCENE_SEPARATORS.sub("_", value.strip().lower()).strip("_")


class VocabularyError(ValueError):
    """An ``info.json`` that cannot serve as a vocabulary."""


@dataclass(frozen=True)
class Vocabulary:
    """The label sets an EmoSet tree is checked against.

    ``emotions`` keeps ``info.json`` index order, which is the ``ClassLabel`` order of built datasets.
    ``scenes`` holds normalised names (see :func:`normalise_scene`).
    """

    emotions: tuple[str, ...]
    scenes: frozenset[str]
    objects: frozenset[str]
    facial_expressions: frozenset[str]
    human_actions: frozenset[str]
    source: str

    @classmethod
    def from_info(cls, info: dict, source: str) -> Vocabulary:
        """Build from a parsed ``info.json``; raises :class:`VocabularyError` naming ``source`` and the key.

        Every key needs a ``label2idx`` object whose labels are non-empty strings; emotion indices must be
        distinct whole numbers (or strings of them), which fix the label order."""
        if not isinstance(info, dict):
            raise VocabularyError(f"{source}: expected a JSON object")
        missing = [k for k in INFO_KEYS if not isinstance(info.get(k), dict) or not isinstance(info[k].get("label2idx"), dict)]
        if missing:
            raise VocabularyError(f"{source}: missing label2idx for {', '.join(missing)}")
        for key in INFO_KEYS:
            bad = [label for label in info[key]["label2idx"] if not label.strip()]
            if bad:
                raise VocabularyError(f"{source}: {key}.label2idx has an empty label")
        emotion_index = info["emotion"]["label2idx"]
        indices = {}
        for emotion, value in emotion_index.items():
            index = _whole_number(value)
            if index is None:
                raise VocabularyError(f"{source}: emotion.label2idx[{emotion!r}] must be a whole number, got {value!r:.40}")
            indices[emotion] = index
        if not indices or len(set(indices.values())) != len(indices):
            raise VocabularyError(f"{source}: emotion.label2idx must give each emotion its own index")
        emotions = tuple(sorted(indices, key=indices.__getitem__))
        return cls(
            emotions=emotions,
            scenes=frozenset(normalise_scene(s) for s in info["scene"]["label2idx"]),
            objects=frozenset(info["object"]["label2idx"]),
            facial_expressions=frozenset(info["facial_expression"]["label2idx"]),
            human_actions=frozenset(info["human_action"]["label2idx"]),
            source=source,
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        """Read an ``info.json`` file."""
        path = Path(path)
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VocabularyError(f"{path}: cannot read vocabulary: {str(exc)[:120]}") from None
        except (RecursionError, ValueError):
            raise VocabularyError(f"{path}: cannot read vocabulary: not JSON a reader can hold (nested too deeply "
                                  "or a number too long)") from None
        return cls.from_info(info, str(path))

    @classmethod
    def default(cls) -> Vocabulary:
        """The vocabulary of EmoSet's released ``info.json``, shipped with this package."""
        return _default_vocabulary()

    def info_json(self) -> dict:
        """This vocabulary as an ``info.json`` document (label2idx/idx2label per key; sets sorted)."""

        def pair(labels) -> dict:
            return {
                "label2idx": {label: i for i, label in enumerate(labels)},
                "idx2label": {str(i): label for i, label in enumerate(labels)},
            }

        grid = [round(i / 10, 1) for i in range(11)]
        levels = {"label2idx": {f"{v:.1f}": i for i, v in enumerate(grid)},
                  "idx2label": {str(i): v for i, v in enumerate(grid)}}
        return {
            "emotion": pair(self.emotions),
            "brightness": levels,
            "colorfulness": levels,
            "scene": pair(sorted(self.scenes)),
            "object": pair(sorted(self.objects)),
            "facial_expression": pair(sorted(self.facial_expressions)),
            "human_action": pair(sorted(self.human_actions)),
        }


def _whole_number(value: object) -> int | None:
    """``value`` as an index when it is a whole number or a string of one (None otherwise)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


@lru_cache(maxsize=1)
def _default_vocabulary() -> Vocabulary:
    ref = resources.files("schemas").joinpath("data/emoset_info.json")
    return Vocabulary.from_info(json.loads(ref.read_text(encoding="utf-8")), "package:schemas/data/emoset_info.json")
