"""The categorical protocol sample: constant string byte for byte, image placeholder, answer format."""

from __future__ import annotations

from builder.generation.categorical import categorical_record
from builder.generation.samples import content_hash
from schemas.protocol import CATEGORICAL_INSTRUCTION
from tests.support.reading import image_token_count

# The instruction a released EmoVIT checkpoint was trained with, exactly (note "options:amusement" without a
# space and two spaces before "Predict emotion:"): EmoVIT's public training data, stated here as the fact.
EXPECTED = ("Please select the emotion closest to the image from the following options:amusement, anger, awe, "
            "contentment, disgust, excitement, fear and sadness (Do not provide answers outside of the candidates "
            "options.) Please answer in the following format:  Predict emotion:")


def test_categorical_constant_byte_for_byte():
    assert CATEGORICAL_INSTRUCTION.encode("utf-8") == EXPECTED.encode("utf-8")
    assert len(CATEGORICAL_INSTRUCTION) == 264
    assert "options:amusement" in CATEGORICAL_INSTRUCTION
    assert "format:  Predict emotion:" in CATEGORICAL_INSTRUCTION


def test_categorical_record_layout(source_records):
    record = source_records[0]
    sample = categorical_record(record, "a photo")
    assert sample.id == f"{record.id}-categorical"
    assert sample.kind == "categorical"
    assert sample.conversations == (
        {"from": "human", "value": "<image>\n" + EXPECTED},
        {"from": "gpt", "value": f"Predict emotion: {record.emotion}"},
    )
    assert image_token_count(sample.conversations) == 1
    assert sample.generator.backend == "protocol"
    assert sample.generator.prompt_version == content_hash(EXPECTED)
    assert len(sample.generator.prompt_version) == 12
    row = sample.to_row()
    assert row["image"] == record.image_path and row["emotion"] == record.emotion
    assert row["attributes"]["objects"] == list(record.objects)


def test_categorical_is_deterministic(source_records):
    assert [categorical_record(r, "c") for r in source_records] == [categorical_record(r, "c") for r in source_records]
