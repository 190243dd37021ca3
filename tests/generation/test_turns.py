"""QA pairs <-> LLaVA conversations, and splitting multi-turn samples."""

from __future__ import annotations

import pytest

from builder.generation.base import GenerationItem
from builder.generation.samples import qa_records
from builder.generation.template import TemplateGenerator
from builder.generation.turns import split_record
from schemas.protocol import QAPair, qa_conversation, split_conversation
from tests.support.reading import image_token_count

PAIRS = [QAPair("Where is this?", "At a beach."), QAPair("What is there?", "A dog."), QAPair("Mood?", "Calm.")]


def test_image_token_opens_the_first_human_turn_only():
    conversation = qa_conversation(PAIRS)
    assert len(conversation) == 6
    assert conversation[0] == {"from": "human", "value": "<image>\nWhere is this?"}
    assert [turn["from"] for turn in conversation] == ["human", "gpt"] * 3
    assert image_token_count(conversation) == 1
    assert conversation[2]["value"] == "What is there?"


def test_split_conversation_repeats_the_image_token_per_sample():
    parts = split_conversation(qa_conversation(PAIRS))
    assert parts == [qa_conversation([pair]) for pair in PAIRS]
    assert all(image_token_count(part) == 1 and part[0]["value"].startswith("<image>\n") for part in parts)


def test_split_rejects_a_malformed_conversation():
    with pytest.raises(ValueError, match="human/gpt"):
        split_conversation([{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}])


def test_split_record_ids(source_records):
    item = GenerationItem(source_records[0], "a caption", "conversation")
    info = TemplateGenerator().info
    (whole,) = qa_records(item, PAIRS, info, split_turns=False)
    assert whole.id == f"{source_records[0].id}-conversation"
    split = qa_records(item, PAIRS, info, split_turns=True)
    assert [r.id for r in split] == [f"{source_records[0].id}-conversation-{n}" for n in range(3)]
    assert split == split_record(whole)
    assert [r.conversations[1]["value"] for r in split] == ["At a beach.", "A dog.", "Calm."]
