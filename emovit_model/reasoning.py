"""Reasoning answers: thinking models (Qwen3-VL Thinking, the R1-style RL-trained Qwen2.5-VL emotion models ...)
write a reasoning block, ``<think>...</think>``, before their answer; some wrap the answer in
``<answer>...</answer>``. The answer is what follows the last closing tag; a block still open at the end means
the answer was cut off inside its reasoning (``max_new_tokens``). :func:`emovit_model.scoring.parse_answer` reads
labels from :func:`final_answer` only.
"""

from __future__ import annotations

import re

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


__all__ = ["REASONING_TAGS", "final_answer", "is_reasoning_tag", "opened_reasoning"]
