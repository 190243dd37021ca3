"""The categorical instruction: EmoVIT's fixed protocol question and ``Predict emotion: <label>``."""

from __future__ import annotations

from builder.generation.base import GeneratorInfo, InstructionRecord
from builder.generation.samples import content_hash, make_record
from builder.sources.records import SourceRecord
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token

#: Provenance of every categorical sample: no model, the protocol string's hash as prompt version.
CATEGORICAL_INFO = GeneratorInfo(backend="protocol", model="", prompt_version=content_hash(CATEGORICAL_INSTRUCTION),
                                 temperature=0.0, seed=0)


def categorical_record(record: SourceRecord, caption: str) -> InstructionRecord:
    """The categorical sample of ``record`` (deterministic; id ``<image_id>-categorical``)."""
    conversation = (
        {"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
        {"from": "gpt", "value": categorical_answer(record.emotion)},
    )
    return make_record(record, caption, "categorical", conversation, CATEGORICAL_INFO)
