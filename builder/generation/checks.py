"""Checks every generated question/answer pair must pass before it can become a sample.

A failed check is a quarantine code, never a silent fix: ``no_qa_pairs``, ``empty_answer``, ``refusal``,
``leakage`` (the text talks about the prompt instead of the image), ``image_token_in_text`` or
``turn_too_long``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemas import instructions
from schemas.protocol import IMAGE_TOKEN, QAPair

#: Phrases that reveal the prompt behind an answer, matched case-insensitively anywhere in the text: the
#: dataset schema's list plus a few more that only generation needs to catch.
LEAKAGE_PHRASES: tuple[str, ...] = instructions.LEAKAGE_PHRASES + (
    "the description provided", "the provided description", "the given description", "the context provided",
    "the provided context", "i cannot see the image", "i can't see the image",
)
#: Longest turn the dataset schema accepts.
MAX_TURN_CHARS = instructions.MAX_TURN_CHARS
#: Openings of a refusal.
REFUSAL_OPENINGS: tuple[str, ...] = (
    "i'm sorry", "i am sorry", "sorry, i", "i can't help", "i cannot help", "i can't assist", "i cannot assist",
    "i'm unable to", "i am unable to", "i cannot provide", "i can't provide", "i won't", "i will not",
    "i cannot comply", "i can't comply",
)

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'"})
_LEAKAGE = re.compile("|".join(re.escape(phrase) for phrase in LEAKAGE_PHRASES))


def _normal(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


def find_leakage(text: str) -> str | None:
    """The first leakage phrase in ``text``, if any."""
    found = _LEAKAGE.search(_normal(text))
    return found.group(0) if found else None


def is_refusal(text: str) -> bool:
    """True when ``text`` opens like a refusal."""
    return _normal(text).lstrip("\"'*# ").startswith(REFUSAL_OPENINGS)


def check_pairs(pairs: Sequence[QAPair]) -> tuple[str, str] | None:
    """``(code, reason)`` for the first problem in ``pairs``, or None when they can be used."""
    if not pairs:
        return "no_qa_pairs", "the response holds no question/answer pair"
    for number, (question, answer) in enumerate(pairs):
        if not question.strip():
            return "empty_answer", f"question {number} is empty"
        if not answer.strip():
            return "empty_answer", f"the answer to question {number} is empty"
        if is_refusal(answer):
            return "refusal", f"the answer to question {number} is a refusal"
        for text, role in ((question, "question"), (answer, "answer")):
            phrase = find_leakage(text)
            if phrase:
                return "leakage", f"{role} {number} contains the leakage phrase {phrase!r}"
            if IMAGE_TOKEN in text:
                return "image_token_in_text", f"{role} {number} contains the image placeholder {IMAGE_TOKEN}"
            if len(text) > MAX_TURN_CHARS - len(IMAGE_TOKEN) - 1:
                return "turn_too_long", f"{role} {number} is longer than {MAX_TURN_CHARS} characters"
    return None
