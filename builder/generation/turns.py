"""Pure functions between question/answer pairs and LLaVA conversations.

A conversation is a tuple of ``{"from": "human" | "gpt", "value": str}`` turns; the image placeholder opens
the first human turn and appears nowhere else. EmoVIT split multi-turn answers into single QA samples;
:func:`split_conversation` does that, repeating the image placeholder in each new first turn.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

from schemas.protocol import strip_image_token, with_image_token


class QAPair(NamedTuple):
    """One question and its answer."""

    question: str
    answer: str


def qa_conversation(pairs: Sequence[QAPair]) -> tuple[dict, ...]:
    """One multi-turn conversation from ``pairs``, the image placeholder opening the first question."""
    turns: list[dict] = []
    for index, (question, answer) in enumerate(pairs):
        turns.append({"from": "human", "value": with_image_token(question) if index == 0 else question})
        turns.append({"from": "gpt", "value": answer})
    return tuple(turns)


def conversation_pairs(conversation: Sequence[dict]) -> list[QAPair]:
    """The QA pairs of a conversation (image placeholder removed); raises ``ValueError`` on a bad layout."""
    if len(conversation) % 2 or not conversation:
        raise ValueError(f"a conversation needs human/gpt turn pairs, got {len(conversation)} turns")
    pairs = []
    for index in range(0, len(conversation), 2):
        human, gpt = conversation[index], conversation[index + 1]
        if human.get("from") != "human" or gpt.get("from") != "gpt":
            raise ValueError(f"turns {index} and {index + 1} are not a human/gpt pair")
        question = strip_image_token(human["value"]) if index == 0 else human["value"]
        pairs.append(QAPair(question, gpt["value"]))
    return pairs


def split_conversation(conversation: Sequence[dict]) -> list[tuple[dict, ...]]:
    """One single-QA conversation per question, each opening with the image placeholder."""
    return [qa_conversation([pair]) for pair in conversation_pairs(conversation)]


def split_record(record):
    """Split an :class:`~builder.generation.base.InstructionRecord` into single-QA records.

    Ids become ``<image_id>-<kind>-<n>`` (``n`` from 0). Single-turn categorical records are returned as is.
    """
    if record.kind == "categorical":
        return [record]
    return [dataclasses.replace(record, id=f"{record.image_id}-{record.kind}-{n}", conversations=conversation)
            for n, conversation in enumerate(split_conversation(record.conversations))]
