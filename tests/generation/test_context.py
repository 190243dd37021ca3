"""Context rendering: caption plus attribute lines, deterministic, missing attributes omitted."""

from __future__ import annotations

from builder.sources.context import brightness_word, colorfulness_word, render_context
from builder.sources.records import SourceRecord


def _record(**attributes) -> SourceRecord:
    return SourceRecord(id="awe_00001", split="train", emotion="awe", image_path="image/awe/awe_00001.jpg",
                        annotation_path="annotation/awe/awe_00001.json", **attributes)


def test_full_context_lists_every_attribute_in_order():
    record = _record(brightness=0.7, colorfulness=0.4, scene="amusement_park", objects=("Balloon", "Toy"),
                     facial_expression="happy", human_action="juggling balls")
    assert render_context(record, "  children   at a fair ") == "\n".join([  # noqa: FLY002
        "caption: children at a fair",
        "emotion: awe",
        "brightness: 0.7 (bright)",
        "colorfulness: 0.4 (muted)",
        "scene: amusement park",
        "object: [Balloon, Toy]",
        "facial_expression: happy",
        "human_action: juggling balls",
    ])


def test_missing_attributes_are_omitted():
    text = render_context(_record(scene="glacier"), "ice")
    assert text == "caption: ice\nemotion: awe\nscene: glacier"
    assert "brightness" not in text and "object" not in text


def test_zero_levels_are_rendered_not_dropped():
    text = render_context(_record(brightness=0.0, colorfulness=0.0), "x")
    assert "brightness: 0.0 (very dark)" in text
    assert "colorfulness: 0.0 (nearly monochrome)" in text


def test_level_words_cover_the_grid():
    assert [brightness_word(v / 10) for v in range(11)] == (
        ["very dark"] * 3 + ["dim"] * 2 + ["moderately lit"] * 2 + ["bright"] * 2 + ["very bright"] * 2)
    assert colorfulness_word(1.0) == "vivid" and colorfulness_word(0.5) == "moderately colourful"


def test_rendering_is_deterministic(source_records):
    first = [render_context(r, "c") for r in source_records]
    assert first == [render_context(r, "c") for r in source_records]
    assert all(line.startswith("caption: c\nemotion: ") for line in first)
