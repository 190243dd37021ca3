"""The ``attributes`` captioner: a short deterministic caption composed from an image's annotations.

It needs no model and no network, so it is the offline default. Only scene, objects, human action and
facial expression are used (the visual content); the emotion label never enters the caption.
"""

from __future__ import annotations

from collections.abc import Sequence

from builder.captions.base import CachingCaptioner
from builder.context import readable_scene
from builder.records import QuarantineEntry, SourceRecord

#: Version of the composition rules below (part of the cache key).
ATTRIBUTE_CAPTION_VERSION = "v1"
_EXPRESSION_ADJECTIVES = {"angry": "angry", "disgust": "disgusted", "fear": "frightened", "happy": "happy",
                          "sad": "sad", "surprise": "surprised"}
_MASS_NOUNS = frozenset({"food", "tea", "coffee", "water", "grass", "snow", "fire", "smoke", "bread", "sand"})


def _with_article(noun: str) -> str:
    if noun in _MASS_NOUNS:
        return noun
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _listing(nouns: Sequence[str]) -> str:
    words = [_with_article(noun.lower()) for noun in nouns]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def attribute_caption(record: SourceRecord) -> str:
    """A one-sentence caption from scene, objects, action and expression, e.g.
    ``"a photo of a beach with a dog and a ball, showing a person walking the dog who looks happy"``.
    Without any of them: ``"a photo"``."""
    text = "a photo"
    if record.scene:
        text += f" of {_with_article(readable_scene(record.scene))}"
    if record.objects:
        text += f" with {_listing(record.objects)}"
    expression = _EXPRESSION_ADJECTIVES.get(record.facial_expression or "", record.facial_expression)
    if record.human_action:
        text += f", showing a person {record.human_action}"
        if expression:
            text += f" who looks {expression}"
    elif expression:
        text += f", showing a person who looks {expression}"
    return text


class AttributesCaptioner(CachingCaptioner):
    """Captions composed from attributes (spec ``attributes``)."""

    name = "attributes"
    batch_size = 4096

    @property
    def cache_key(self) -> str:
        return f"attributes@{ATTRIBUTE_CAPTION_VERSION}"

    def compute(self, records: Sequence[SourceRecord]) -> tuple[dict[str, str], list[QuarantineEntry]]:
        return {record.id: attribute_caption(record) for record in records}, []
