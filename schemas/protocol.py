"""The protocol between the stages: what generation writes, training reads and evaluation asks and reads back.

* **Questions** — the categorical instruction (EmoVIT's, byte for byte, or the same sentence over another
  tree's labels), its answer ``Predict emotion: <label>``, EmoVIT's original text normalisation.
* **Conversations** — LLaVA turns (``{"from": "human" | "gpt", "value": str}``) with the image placeholder
  opening the first human turn, and the question/answer pairs they hold (:class:`QAPair`).
* **Answers** — how a free-text answer is read (:func:`parse_answer`, which never guesses), including the
  reasoning block thinking models write before it (:func:`final_answer`). The leaderboard, the importers of
  other harnesses' answers, the scorers and the exported lmms-eval task all read answers by these rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from schemas.instructions import IMAGE_TOKEN, KIND_VALUES
from schemas.vocab import EMOTIONS

#: The categorical instruction a released EmoVIT checkpoint was trained with, byte for byte (note the
#: missing space after "options:" and the two spaces before "Predict emotion:").
CATEGORICAL_INSTRUCTION = (
    "Please select the emotion closest to the image from the following options:amusement, anger, awe, "
    "contentment, disgust, excitement, fear and sadness (Do not provide answers outside of the candidates "
    "options.) Please answer in the following format:  Predict emotion:"
)
#: Prefix of a categorical answer; the full answer is ``f"{CATEGORICAL_ANSWER_PREFIX} {label}"``.
CATEGORICAL_ANSWER_PREFIX = "Predict emotion:"
#: Instruction kinds, in the order of EmoVIT's ablation (``IMAGE_TOKEN``, the placeholder opening the first
#: human turn, comes from the instruction schema too).
KINDS: tuple[str, ...] = KIND_VALUES
#: The emotion labels in the alphabetical order the instruction lists them.
ALPHABETICAL_EMOTIONS: tuple[str, ...] = tuple(sorted(EMOTIONS))

_STRIP_CHARS = re.compile(r'[.!"()*#:;~]')
_SPACES = re.compile(r"\s+")


def categorical_instruction(labels=None) -> str:
    """The categorical instruction for a label set: EmoVIT's protocol string, byte for byte, for EmoSet's
    eight emotions (in any order, or ``None``); for another tree's labels, the same sentence listing those
    labels alphabetically."""
    if labels is None or sorted(labels) == list(ALPHABETICAL_EMOTIONS):
        return CATEGORICAL_INSTRUCTION
    names = sorted(labels)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return CATEGORICAL_INSTRUCTION.replace(
        "amusement, anger, awe, contentment, disgust, excitement, fear and sadness", listed)


def categorical_answer(label: str) -> str:
    """The target answer of a categorical sample: ``Predict emotion: <label>``."""
    return f"{CATEGORICAL_ANSWER_PREFIX} {label}"


def with_image_token(text: str) -> str:
    """Put the image placeholder once, at the start of the first human turn."""
    return f"{IMAGE_TOKEN}\n{text}"


def strip_image_token(text: str) -> str:
    """The first human turn without its leading image placeholder."""
    if text.startswith(IMAGE_TOKEN):
        return text[len(IMAGE_TOKEN):].lstrip("\n")
    return text


def normalise_text(text: str, max_words: int = 50) -> str:
    """EmoVIT's original pre-processing: lower-case, drop ``.!"()*#:;~``, collapse spaces, keep ``max_words``."""
    words = _SPACES.sub(" ", _STRIP_CHARS.sub("", text.lower())).strip().split(" ")
    return " ".join(words[:max_words])


# ------------------------------------------------------------------------------------------ conversations
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
    """One single-QA conversation per question, each opening with the image placeholder (EmoVIT split multi-turn
    answers into single QA samples so)."""
    return [qa_conversation([pair]) for pair in conversation_pairs(conversation)]


# ------------------------------------------------------------------------------------------ reasoning answers
#: Tag names of a reasoning block (``<think>...</think>``: Qwen3-VL Thinking and the R1-style RL-trained models;
#: ``<thinking>``, ``<reasoning>`` in other releases), matched case-insensitively.
REASONING_TAGS: tuple[str, ...] = ("think", "thinking", "reasoning")
_TAGS = "|".join(REASONING_TAGS)
_OPEN = re.compile(rf"<\s*(?:{_TAGS})\s*>", re.IGNORECASE)
_CLOSE = re.compile(rf"<\s*/\s*(?:{_TAGS})\s*>", re.IGNORECASE)
_ANSWER = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)


def is_reasoning_tag(token: str) -> bool:
    """Whether ``token`` is an opening or closing reasoning tag (``<think>``, ``</think>`` ...)."""
    return bool(_OPEN.fullmatch(token) or _CLOSE.fullmatch(token))


def opened_reasoning(prompt: str) -> str:
    """The reasoning tag a chat prompt ends with (Qwen3-VL Thinking's template opens ``<think>`` for the model),
    as the prompt writes it, or ``""``."""
    match = re.search(rf"{_OPEN.pattern}\s*$", prompt, re.IGNORECASE)
    return match.group(0) if match else ""


def final_answer(text: str) -> str | None:
    """The part of an answer that commits to a label: after the last closing reasoning tag (``</think>``), and
    inside the last ``<answer>...</answer>`` there when the model wraps its answer so (R1-style models); ``None``
    when a reasoning block is open at the end (a ``<think>`` never closed: the answer was cut off inside its
    reasoning, e.g. by ``max_new_tokens``). Text without reasoning tags is its own answer."""
    closes = list(_CLOSE.finditer(text))
    rest = text[closes[-1].end():] if closes else text
    if _OPEN.search(rest):
        return None
    wrapped = _ANSWER.findall(rest)
    return wrapped[-1] if wrapped else rest


# ------------------------------------------------------------------------------------------ reading answers
#: Which parse rule produced a label, or why none was read (see :func:`parse_answer`).
PARSE_RULES: tuple[str, ...] = ("exact", "single_label", "failure", "unclosed_reasoning")


@dataclass(frozen=True)
class ParsedAnswer:
    """The label an answer commits to (``None`` on failure) and the rule that read it."""

    label: str | None
    rule: str


def _label_alternation(labels) -> str:
    # longest first, so a label that is a prefix of another never shadows it
    return "|".join(re.escape(label.lower()) for label in sorted(labels, key=len, reverse=True))


def parse_answer(text: str, labels=ALPHABETICAL_EMOTIONS) -> ParsedAnswer:
    """Read the label a free-text answer commits to, never guessing.

    0. A reasoning answer (``<think>...</think>`` then the answer) is read after its last closing tag only
       (:func:`final_answer`): labels named while reasoning never count. A reasoning block that never closes is a
       failure with its own rule, **unclosed_reasoning**, never a label guessed from the reasoning.
    1. **exact** — the whole answer is ``Predict emotion: <label>`` (case and surrounding spaces ignored, one
       final ``.`` or ``!`` allowed).
    2. **single_label** (the one fallback) — exactly one distinct candidate label occurs as a whole word
       anywhere in the answer (it may occur several times). ``"awesome"`` does not contain ``awe``.
    3. Anything else — no label, or two or more different labels — is a **failure**: label ``None``, which
       counts as wrong. There is no default, random or first-option label.
    """
    answer = final_answer(text)
    if answer is None:
        return ParsedAnswer(None, "unclosed_reasoning")
    lowered = answer.lower()
    alternation = _label_alternation(labels)
    prefix = re.escape(CATEGORICAL_ANSWER_PREFIX.lower().rstrip(":"))
    exact = re.fullmatch(rf"\s*{prefix}\s*:\s*({alternation})\s*[.!]?\s*", lowered)
    if exact:
        return ParsedAnswer(_canonical(exact.group(1), labels), "exact")
    found = {m.group(1) for m in re.finditer(rf"(?<!\w)({alternation})(?!\w)", lowered)}
    if len(found) == 1:
        return ParsedAnswer(_canonical(found.pop(), labels), "single_label")
    return ParsedAnswer(None, "failure")


def parse_emotion(text: str, labels=ALPHABETICAL_EMOTIONS) -> str | None:
    """The label of :func:`parse_answer`, or ``None`` when the answer cannot be read."""
    return parse_answer(text, labels).label


def _canonical(word: str, labels) -> str:
    return next(label for label in labels if label.lower() == word)


__all__ = ["ALPHABETICAL_EMOTIONS", "CATEGORICAL_ANSWER_PREFIX", "CATEGORICAL_INSTRUCTION", "IMAGE_TOKEN", "KINDS",
           "PARSE_RULES", "REASONING_TAGS", "ParsedAnswer", "QAPair", "categorical_answer", "categorical_instruction",
           "conversation_pairs", "final_answer", "is_reasoning_tag", "normalise_text", "opened_reasoning",
           "parse_answer", "parse_emotion", "qa_conversation", "split_conversation", "strip_image_token",
           "with_image_token"]
