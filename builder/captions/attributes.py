"""The ``attributes`` captioner: a short deterministic caption composed from an image's annotations.

It needs no model and no network, so it is the offline default. Only scene, objects, human action and
facial expression are used (the visual content); the emotion label never enters the caption.
"""

from __future__ import annotations

from collections.abc import Sequence

from builder.captions.base import CachingCaptioner
from builder.sources.context import noun_list, readable_scene, with_article
from builder.sources.records import QuarantineEntry, SourceRecord

_EXPRESSION_ADJECTIVES = {"angry": "angry", "disgust": "disgusted", "fear": "frightened", "happy": "happy",
                          "sad": "sad", "surprise": "surprised"}

def attribute_caption(record: SourceRecord) -> str:
    """A one-sentence caption from scene, objects, action and expression, e.g.
    ``"a photo of a beach with a dog and a ball, showing a person walking the dog who looks happy"``.
    Without any of them: ``"a photo"``."""
    text = "a photo"
    if record.scene:
        text += f" of {with_article(readable_scene(record.scene))}"
    if record.objects:
        text += f" with {noun_list(record.objects)}"
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
    cacheable = False  # composing a sentence is cheaper than a database look-up

    def compute(self, records: Sequence[SourceRecord]) -> tuple[dict[str, str], list[QuarantineEntry]]:
        return {record.id: attribute_caption(record) for record in records}, []
