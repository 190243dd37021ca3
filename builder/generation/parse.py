"""Reading question/answer pairs out of a model response.

Structured output (``{"qa": [{"question": ..., "answer": ...}]}``) is tried first, also inside a Markdown
code fence or surrounded by chatter; then plain text with ``Question:`` / ``Answer:`` markers (``Q1:``,
``**Answer 2:**``, ``===`` separators and multi-line answers are accepted). A response that yields nothing
raises :class:`ParseError`: the caller quarantines it, it never guesses.
"""

from __future__ import annotations

import json
import re

from schemas.protocol import QAPair


class ParseError(ValueError):
    """The response holds no recognisable question/answer pairs."""


_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_QUESTION = re.compile(r"^[\s>*#_\-\d.)]*(?:question|q)\s*\d*\s*[*_]*\s*[:：]\s*[*_]*\s*(.*)$", re.IGNORECASE)
_ANSWER = re.compile(r"^[\s>*#_\-\d.)]*(?:answer|a)\s*\d*\s*[*_]*\s*[:：]\s*[*_]*\s*(.*)$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*(?:={3,}|-{3,}|\*{3,})\s*$")
_QUESTION_KEYS = ("question", "q", "query")
_ANSWER_KEYS = ("answer", "a", "response")


def _pair_from(value: object) -> QAPair | None:
    if not isinstance(value, dict):
        return None
    lowered = {str(k).lower(): v for k, v in value.items()}
    question = next((lowered[k] for k in _QUESTION_KEYS if k in lowered), None)
    answer = next((lowered[k] for k in _ANSWER_KEYS if k in lowered), None)
    if not isinstance(question, str) or not isinstance(answer, str):
        return None
    return QAPair(question.strip(), answer.strip())


def _pairs_from_json(value: object) -> list[QAPair] | None:
    if isinstance(value, dict):
        single = _pair_from(value)
        if single is not None:
            return [single]
        for key in ("qa", "pairs", "qa_pairs", "conversation", "questions"):
            if key in value:
                return _pairs_from_json(value[key])
        return None
    if isinstance(value, list) and value:
        pairs = [_pair_from(element) for element in value]
        if all(pair is not None for pair in pairs):
            return pairs  # type: ignore[return-value]
    return None


def _json_candidates(text: str) -> list[str]:
    candidates = [text]
    candidates += [match.group(1) for match in _FENCE.finditer(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start:end + 1])
    return candidates


def parse_json_pairs(text: str) -> list[QAPair] | None:
    """Pairs from a JSON response (possibly fenced or with text around it), or None."""
    for candidate in _json_candidates(text.strip()):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        pairs = _pairs_from_json(value)
        if pairs is not None:
            return pairs
    return None


def parse_text_pairs(text: str) -> list[QAPair] | None:
    """Pairs from ``Question:`` / ``Answer:`` text, or None when there is no question marker."""
    pairs: list[list[str]] = []
    target: list[str] | None = None
    for line in text.splitlines():
        if _SEPARATOR.match(line):
            continue
        question = _QUESTION.match(line)
        answer = _ANSWER.match(line) if question is None else None
        if question:
            pairs.append([question.group(1), ""])
            target = pairs[-1]
            position = 0
        elif answer and pairs:
            target = pairs[-1]
            position = 1
            target[1] = answer.group(1)
        elif target is not None and line.strip():
            target[position] = f"{target[position]}\n{line.strip()}" if target[position] else line.strip()
    if not pairs:
        return None
    return [QAPair(_tidy(q), _tidy(a)) for q, a in pairs]


def _tidy(text: str) -> str:
    return text.strip().strip("*_").strip()


def parse_qa(text: str) -> list[QAPair]:
    """Question/answer pairs from a model response; raises :class:`ParseError` when there are none."""
    if not text or not text.strip():
        raise ParseError("the response is empty")
    pairs = parse_json_pairs(text)
    if pairs is None:
        pairs = parse_text_pairs(text)
    if pairs is None:
        raise ParseError("no JSON question/answer object and no 'Question:'/'Answer:' markers")
    return pairs
