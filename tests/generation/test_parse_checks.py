"""Reading QA pairs from responses (structured first, then the Question:/Answer: fallback) and the checks."""

from __future__ import annotations

import json

import pytest

from builder.generation.checks import check_pairs, find_leakage, is_refusal
from builder.generation.parse import ParseError, parse_qa
from schemas.protocol import QAPair


def test_structured_json():
    text = json.dumps({"qa": [{"question": "Where?", "answer": "A beach."}, {"question": "Mood?", "answer": "Calm."}]})
    assert parse_qa(text) == [QAPair("Where?", "A beach."), QAPair("Mood?", "Calm.")]


def test_json_in_a_code_fence_with_chatter():
    text = 'Here you go:\n```json\n[{"Question": "Who?", "Answer": "A child."}]\n```\nHope this helps.'
    assert parse_qa(text) == [QAPair("Who?", "A child.")]


def test_plain_question_answer_text_with_separators_and_multiline_answers():
    text = ("Question:\nWhat is the weather like?\n===\nAnswer:\nOvercast and grey.\nRain seems near.\n===\n"
            "**Question 2:** Is anyone there?\n**Answer 2:** No, the street is empty.\n")
    assert parse_qa(text) == [
        QAPair("What is the weather like?", "Overcast and grey.\nRain seems near."),
        QAPair("Is anyone there?", "No, the street is empty."),
    ]


def test_short_markers():
    assert parse_qa("Q1: Colour?\nA1: Mostly blue.\nQ2: Time of day?\nA2: Dusk.") == [
        QAPair("Colour?", "Mostly blue."), QAPair("Time of day?", "Dusk.")]


def test_question_without_answer_gives_an_empty_answer():
    pairs = parse_qa("Question: What is it?")
    assert pairs == [QAPair("What is it?", "")]
    assert check_pairs(pairs)[0] == "empty_answer"


@pytest.mark.parametrize("text", ["", "   ", '{"qa": [{"question": "Where', "Just a sentence about a dog.",
                                  '{"foo": 1}'])
def test_unparseable_responses_raise(text):
    with pytest.raises(ParseError):
        parse_qa(text)


def test_checks():
    assert check_pairs([QAPair("Where?", "A beach.")]) is None
    assert check_pairs([])[0] == "no_qa_pairs"
    assert check_pairs([QAPair("Where?", "  ")])[0] == "empty_answer"
    assert check_pairs([QAPair("Where?", "I'm sorry, but I can't help with that.")])[0] == "refusal"
    assert check_pairs([QAPair("Where?", "According to the caption, a beach.")]) == (
        "leakage", "answer 0 contains the leakage phrase 'the caption'")
    assert check_pairs([QAPair("Describe <image>", "A beach.")])[0] == "image_token_in_text"


def test_leakage_and_refusal_phrases():
    assert find_leakage("As an AI, I think it is calm.") == "as an ai"
    assert find_leakage("Judging by the attributes listed") == "the attributes"
    assert find_leakage("Judging by the captions") == "the caption"  # anywhere, as the dataset schema matches
    assert find_leakage("A calm lake.") is None
    assert is_refusal("I\u2019m sorry, I cannot do that")
    assert not is_refusal("The child is sorry for breaking the vase.")


def test_long_turns_are_rejected_before_the_schema_does():
    assert check_pairs([QAPair("Why?", "x" * 3995)])[0] == "turn_too_long"
    assert check_pairs([QAPair("Why?", "x" * 3000)]) is None


def test_leakage_check_catches_every_phrase_the_dataset_schema_rejects():
    from schemas.instructions import LEAKAGE_PHRASES

    for phrase in LEAKAGE_PHRASES:
        code, _ = check_pairs([QAPair("Why?", f"Well, {phrase.upper()} suggests calm.")])
        assert code == "leakage", phrase
