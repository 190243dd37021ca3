"""Prompt files: loaded as package data, versioned by content, rendered with the context."""

from __future__ import annotations

import json
import re

import pytest

from builder.generation.checks import check_pairs
from builder.generation.parse import parse_qa
from builder.generation.prompts import QA_RESPONSE_FORMAT, load_prompt, render_messages
from builder.sources.context import render_context


@pytest.mark.parametrize("kind, pairs_per_example", [("conversation", 3), ("reasoning", 1)])
def test_prompt_sets(kind, pairs_per_example, source_records):
    prompt = load_prompt(kind)
    assert re.fullmatch(r"[0-9a-f]{12}", prompt.version)
    assert len(prompt.examples) == 2
    for example in prompt.examples:
        assert len(example.pairs) == pairs_per_example
        assert check_pairs(example.pairs) is None  # the examples model leak-free answers
        assert example.context.startswith("caption: ") and "\nemotion: " in example.context
    context = render_context(source_records[0], "a test caption")
    messages = render_messages(prompt, context)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == prompt.system and messages[-1]["content"] == context
    # The example answers are in the structured format the parser reads back.
    assert parse_qa(messages[2]["content"]) == list(prompt.examples[0].pairs)
    assert "json" in prompt.system.lower()


def test_versions_differ_per_kind_and_schema_is_strict():
    assert load_prompt("conversation").version != load_prompt("reasoning").version
    schema = QA_RESPONSE_FORMAT["json_schema"]["schema"]
    assert QA_RESPONSE_FORMAT["type"] == "json_schema" and schema["required"] == ["qa"]
    assert json.loads(json.dumps(QA_RESPONSE_FORMAT)) == QA_RESPONSE_FORMAT


def test_no_prompt_for_categorical():
    with pytest.raises(ValueError, match="categorical"):
        load_prompt("categorical")
