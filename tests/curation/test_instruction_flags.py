"""Instruction checks on hand-made rows: each code, its boundary, and the fences against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from builder.curation.images import InstructionRow, render_conversation
from builder.curation.instruction_flags import FlagConfig, flag_instructions, flags_by_image, length_fences
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token

WORDS = ["the", "warm", "light", "falls", "across", "a", "quiet", "street", "where", "people", "stop", "to", "talk", "and", "smile"]


def row(image_id: str, kind: str, answer: str, emotion: str = "awe", question: str = "What do you see?",
        number: int = 0) -> InstructionRow:
    return InstructionRow(f"{image_id}-{kind}-{number}", image_id, kind, emotion,
                          [{"from": "human", "value": with_image_token(question)}, {"from": "gpt", "value": answer}])


def answer(words: int, offset: int = 0) -> str:
    return " ".join(WORDS[(offset + i) % len(WORDS)] for i in range(words)) + "."


def reasoning_rows(count: int = 20) -> list[InstructionRow]:
    # lengths 40..59 words, each text different (offset) so nothing repeats
    return [row(f"awe_{i:05d}", "reasoning", answer(40 + i, offset=i)) for i in range(count)]


def test_clean_rows_raise_nothing():
    rows = reasoning_rows() + [row("awe_00000", "categorical", categorical_answer("awe"),
                                   question=CATEGORICAL_INSTRUCTION)]
    assert flag_instructions(rows) == []


def test_wrong_categorical_answer_is_flagged_with_label_and_answer():
    (flag,) = flag_instructions([row("fear_00001", "categorical", "Predict emotion: awe", emotion="fear")])
    assert (flag.code, flag.image_id, flag.detail) == ("categorical_mismatch", "fear_00001",
                                                      "answer 'Predict emotion: awe', label 'fear'")


@pytest.mark.parametrize("text", ["As an AI, I think it is calm.", "Based on the description, it is calm.",
                                  "The caption says a beach."])
def test_leakage_in_an_answer_is_flagged(text):
    (flag,) = flag_instructions([row("awe_00001", "conversation", text)])
    assert flag.code == "leakage" and flag.detail.startswith("answer 0 contains")


def test_leakage_in_a_question_is_flagged_too():
    (flag,) = flag_instructions([row("awe_00001", "conversation", "A beach.", question="Given the caption, what is it?")])
    assert flag.code == "leakage" and flag.detail == "question 0 contains 'the caption'"


def test_length_fences_match_tukey_on_log_counts():
    counts = [40 + i for i in range(20)]
    logs = np.log(counts)
    q1, q3 = np.percentile(logs, 25), np.percentile(logs, 75)
    low, high = length_fences(counts, 3.0)
    assert low == pytest.approx(math.exp(q1 - 3 * (q3 - q1))) and high == pytest.approx(math.exp(q3 + 3 * (q3 - q1)))


def test_length_outliers_on_both_sides():
    rows = reasoning_rows() + [row("awe_00100", "reasoning", "Calm."), row("awe_00101", "reasoning", answer(400))]
    flags = flag_instructions(rows)
    assert [(f.image_id, f.code) for f in flags] == [("awe_00100", "length_outlier"), ("awe_00101", "length_outlier")]
    assert flags[0].detail.startswith("answer of 1 words; reasoning fences ")


def test_too_few_answers_get_no_fences():
    rows = reasoning_rows(5) + [row("awe_00100", "reasoning", "Calm.")]
    assert flag_instructions(rows, FlagConfig(min_kind_answers=8)) == []


def test_repeated_answers_need_enough_images_and_words():
    text = answer(12)
    twice = [row("awe_00001", "conversation", text), row("awe_00002", "conversation", text)]
    assert flag_instructions(twice) == []
    thrice = twice + [row("awe_00003", "conversation", text.upper())]  # case and spacing are ignored
    assert [(f.image_id, f.code) for f in flag_instructions(thrice)] == [
        ("awe_00001", "repeated_answer"), ("awe_00002", "repeated_answer"), ("awe_00003", "repeated_answer")]
    short = [row(f"awe_{i:05d}", "conversation", "It is a beach.") for i in range(5)]
    assert flag_instructions(short) == []  # under repeat_min_words
    categorical = [row(f"awe_{i:05d}", "categorical", categorical_answer("awe")) for i in range(5)]
    assert flag_instructions(categorical) == []


def test_flags_by_image_orders_codes_and_keeps_every_line():
    rows = [row("awe_00001", "conversation", "As an AI I see a beach."),
            row("awe_00001", "categorical", "Predict emotion: fear")]
    codes, lines = flags_by_image(flag_instructions(rows))["awe_00001"]
    assert codes == ["leakage", "categorical_mismatch"] and len(lines) == 2
    assert lines[1] == "awe_00001-categorical-0: categorical_mismatch: answer 'Predict emotion: fear', label 'awe'"


def test_render_conversation_strips_the_image_token():
    turns = [{"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A beach."},
             {"from": "human", "value": "And the mood?"}, {"from": "gpt", "value": "Calm."}]
    assert render_conversation(turns) == "Q: What is it?\nA: A beach.\nQ: And the mood?\nA: Calm."
