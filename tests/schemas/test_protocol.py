"""The answer protocol lives in ``schemas``: the parser and its reasoning rule, and the conversation helpers, are
read by the leaderboard, the importers, the exports, the scorers and the collators from one place."""

from __future__ import annotations

import pytest

from schemas import protocol


def test_the_parser_reads_after_the_reasoning_and_never_guesses():
    assert protocol.parse_answer("<think>fear?</think> Predict emotion: awe") == protocol.ParsedAnswer("awe", "exact")
    assert protocol.parse_answer("<think>fear, still thinking") == protocol.ParsedAnswer(None, "unclosed_reasoning")
    assert protocol.parse_answer("awe or fear") == protocol.ParsedAnswer(None, "failure")
    assert protocol.parse_emotion("so much joy", ("joy", "joyful calm")) == "joy"
    assert protocol.PARSE_RULES == ("exact", "single_label", "failure", "unclosed_reasoning")
    assert protocol.final_answer("<think>x</think><answer>Predict emotion: fear</answer>") == "Predict emotion: fear"
    assert protocol.opened_reasoning("...<|im_start|>assistant\n<think>\n") == "<think>\n"
    assert protocol.is_reasoning_tag("</THINK>") and not protocol.is_reasoning_tag("<answer>")


def test_conversations_and_their_pairs():
    pairs = [protocol.QAPair("Where?", "A beach."), protocol.QAPair("Mood?", "Calm.")]
    conversation = protocol.qa_conversation(pairs)
    assert conversation == ({"from": "human", "value": "<image>\nWhere?"}, {"from": "gpt", "value": "A beach."},
                            {"from": "human", "value": "Mood?"}, {"from": "gpt", "value": "Calm."})
    assert protocol.conversation_pairs(conversation) == pairs
    assert protocol.split_conversation(conversation) == [protocol.qa_conversation([pair]) for pair in pairs]
    with pytest.raises(ValueError, match="not a human/gpt pair"):
        protocol.conversation_pairs([{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}])


def test_the_model_package_keeps_the_parser_s_public_names():
    from emovit_model import scoring

    assert scoring.parse_answer is protocol.parse_answer and scoring.parse_emotion is protocol.parse_emotion
    assert scoring.ParsedAnswer is protocol.ParsedAnswer and scoring.PARSE_RULES is protocol.PARSE_RULES
