"""Reasoning answers (``<think>...</think>`` then the answer, as Qwen3-VL Thinking and the RL-trained Qwen2.5-VL
emotion models write them) are read after the last closing tag only; a block that never closes (cut off by
``max_new_tokens``) is a parse failure of its own kind, never a label guessed from the reasoning. The same holds
for our runs, other tools' runs the leaderboard re-reads, imports, and the parser our lmms-eval export ships."""

from __future__ import annotations

import importlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.protocol import ALPHABETICAL_EMOTIONS, PARSE_RULES, ParsedAnswer, final_answer, parse_answer

CASES = [
    ("<think>It could be sadness, or fear.</think>\n\nPredict emotion: awe", ParsedAnswer("awe", "exact")),
    ("The sky is grey, sadness maybe.</think>\n\nPredict emotion: awe", ParsedAnswer("awe", "exact")),  # opened by the template
    ("<think>fear?</think> not yet <think>anger</think>The image evokes contentment.",
     ParsedAnswer("contentment", "single_label")),  # the last closing tag counts
    ("<think>sadness</think><answer>Predict emotion: fear</answer>", ParsedAnswer("fear", "exact")),  # R1 style
    ("<THINK>anger</Think>\nPredict emotion: disgust.", ParsedAnswer("disgust", "exact")),
    ("<thinking>awe</thinking> amusement", ParsedAnswer("amusement", "single_label")),
    ("<think>I see sadness, definitely sadness", ParsedAnswer(None, "unclosed_reasoning")),
    ("<think>\nThe colours suggest fear", ParsedAnswer(None, "unclosed_reasoning")),
    ("<think>a</think>Predict emotion: awe <think>but maybe anger", ParsedAnswer(None, "unclosed_reasoning")),
    ("<think>fear and anger</think>", ParsedAnswer(None, "failure")),  # closed, but no answer after it
    ("<think>fear</think> I cannot tell.", ParsedAnswer(None, "failure")),
]


@pytest.mark.parametrize("text, parsed", CASES)
def test_reasoning_answers(text, parsed):
    assert parse_answer(text) == parsed
    assert "unclosed_reasoning" in PARSE_RULES


def test_final_answer_is_the_text_after_the_last_closing_tag():
    assert final_answer("<think>x</think>\n\n answer ") == "\n\n answer "
    assert final_answer("plain answer") == "plain answer"
    assert final_answer("<think>never closed") is None


reasoning_words = st.lists(st.sampled_from([*ALPHABETICAL_EMOTIONS, "the", "maybe", "not", "colours", ",", "."]),
                           max_size=12).map(" ".join)


@given(reasoning_words, st.sampled_from(ALPHABETICAL_EMOTIONS), st.booleans())
def test_labels_named_while_reasoning_never_count(reasoning, label, opened):
    """Whatever the reasoning names, a closed block is followed by the answer's label, and an open one gives none."""
    head = "<think>" if opened else ""
    assert parse_answer(f"{head}{reasoning}</think>\n\nPredict emotion: {label}") == ParsedAnswer(label, "exact")
    assert parse_answer(f"<think>{reasoning}") == ParsedAnswer(None, "unclosed_reasoning")


def test_the_exported_lmms_eval_parser_reads_reasoning_answers_alike():
    utils = importlib.import_module("benchmarks.interop.exporters.lmms_eval_utils")
    assert utils.PARSE_RULES == PARSE_RULES
    for text, parsed in CASES:
        assert utils.parse_answer(text, ALPHABETICAL_EMOTIONS) == (parsed.label, parsed.rule), text
    doc = {"options": list(ALPHABETICAL_EMOTIONS), "answer": "fear"}
    assert utils.process_results(doc, ["<think>it is fear"]) == {"accuracy": 0.0, "parse_failure": 1.0}
    assert utils.process_results(doc, ["<think>awe?</think>Predict emotion: fear"]) == \
        {"accuracy": 1.0, "parse_failure": 0.0}


def test_foreign_runs_and_imports_are_read_by_the_same_rule(tmp_path):
    """A foreign run whose tool took a label from the reasoning is re-read by the leaderboard (the label dropped,
    the answer counted under unclosed_reasoning); an import converts the same answers to the same labels."""
    from benchmarks.board.leaderboard import write_leaderboard
    from benchmarks.interop.foreign import ForeignRun, ForeignSample
    from benchmarks.interop.importing import convert

    answers = {"1": ("fear", "<think>This feels like sadness"), "2": ("awe", "<think>sadness?</think>\nawe"),
               "3": ("anger", "<think>anger, or fear</think>\n\nPredict emotion: anger"),
               "4": ("fear", "<think>fear")}
    folder = tmp_path / "runs" / "other-tool" / "emoset8"
    folder.mkdir(parents=True)
    stated = {"1": "sadness", "2": "awe", "3": "anger", "4": "fear"}  # what the other tool wrote
    (folder / "predictions.jsonl").write_text("".join(
        json.dumps({"id": i, "gold": gold, "pred": stated[i], "raw": raw}) + "\n"
        for i, (gold, raw) in answers.items()))
    [row] = write_leaderboard([folder], tmp_path / "board", plots=False)
    assert row["parse_rules"] == {"exact": 1, "single_label": 1, "failure": 0, "unclosed_reasoning": 2}
    assert row["reparse_changed"] == 2 and row["parse_failures"] == 2 and row["accuracy"] == 0.5

    run = ForeignRun(tool="lmms-eval", model="other", task="emoset8", files=[],
                     samples=[ForeignSample(id=i, gold=gold, raw=raw, where=f"x:{i}") for i, (gold, raw) in
                              answers.items()])
    _, lines, _ = convert(run, task_name="emoset8")
    assert [line["pred"] for line in lines] == [None, "awe", "anger", None]
