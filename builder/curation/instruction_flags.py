"""Instruction samples that look wrong, found over a whole build.

Four checks, each a stable code:

* ``leakage`` -- a question or answer contains a phrase that reveals the generation prompt ("the caption",
  "based on the description", ...: the list of :mod:`builder.generation.checks`);
* ``categorical_mismatch`` -- a categorical answer that is not ``Predict emotion: <the image's label>``;
* ``length_outlier`` -- an answer whose word count lies outside Tukey's far-out fences for its kind, computed on
  log word counts: ``[Q1 - k*IQR, Q3 + k*IQR]`` with ``k = 3`` (categorical answers are checked by the rule
  above instead); a kind with fewer than ``min_kind_answers`` answers gets no fences;
* ``repeated_answer`` -- the same answer text (case and spacing ignored) of at least ``repeat_min_words`` words,
  given for at least ``repeat_min_images`` different images (categorical answers repeat by design and are
  left out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from builder.curation.images import InstructionRow
from builder.generation.checks import find_leakage
from schemas.protocol import categorical_answer, strip_image_token

#: Flag codes, in the order they are reported.
FLAG_CODES: tuple[str, ...] = ("leakage", "categorical_mismatch", "length_outlier", "repeated_answer")


@dataclass(frozen=True)
class FlagConfig:
    """Thresholds of the instruction checks."""

    outlier_fence: float = 3.0
    min_kind_answers: int = 8
    repeat_min_words: int = 8
    repeat_min_images: int = 3


@dataclass(frozen=True)
class InstructionFlag:
    """One problem found in one instruction sample."""

    image_id: str
    sample_id: str
    code: str
    detail: str

    def describe(self) -> str:
        return f"{self.sample_id}: {self.code}: {self.detail}"


def _answers(row: InstructionRow) -> list[str]:
    return [turn["value"] for turn in row.conversations[1::2]]


def _words(text: str) -> int:
    return len(text.split())


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def length_fences(word_counts: Iterable[int], fence: float) -> tuple[float, float]:
    """Tukey's fences ``(low, high)`` in words, computed on log word counts."""
    logs = np.log(np.maximum(np.asarray(list(word_counts), dtype=float), 1.0))
    q1, q3 = np.percentile(logs, [25, 75])
    spread = fence * (q3 - q1)
    return math.exp(q1 - spread), math.exp(q3 + spread)


def flag_instructions(rows: Iterable[InstructionRow], config: FlagConfig = FlagConfig()) -> list[InstructionFlag]:
    """Every flag raised by the four checks over ``rows`` (a whole build), in row order within each check."""
    rows = list(rows)
    flags: list[InstructionFlag] = []
    for row in rows:
        for index, turn in enumerate(row.conversations):
            phrase = find_leakage(strip_image_token(turn["value"]) if index == 0 else turn["value"])
            if phrase:
                role = "question" if turn["from"] == "human" else "answer"
                flags.append(InstructionFlag(row.image_id, row.sample_id, "leakage",
                                             f"{role} {index // 2} contains {phrase!r}"))
    for row in rows:
        if row.kind == "categorical":
            expected = categorical_answer(row.emotion)
            given = _answers(row)
            if given != [expected]:
                flags.append(InstructionFlag(row.image_id, row.sample_id, "categorical_mismatch",
                                             f"answer {' | '.join(given)!r}, label {row.emotion!r}"))
    by_kind: dict[str, list[tuple[InstructionRow, int]]] = defaultdict(list)
    for row in rows:
        if row.kind != "categorical":
            by_kind[row.kind].extend((row, _words(answer)) for answer in _answers(row))
    for kind, counted in by_kind.items():
        if len(counted) < config.min_kind_answers:
            continue
        low, high = length_fences((words for _, words in counted), config.outlier_fence)
        for row, words in counted:
            if words < low or words > high:
                flags.append(InstructionFlag(row.image_id, row.sample_id, "length_outlier",
                                             f"answer of {words} words; {kind} fences {low:.0f}-{high:.0f}"))
    images_per_text: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.kind != "categorical":
            for answer in _answers(row):
                if _words(answer) >= config.repeat_min_words:
                    images_per_text[_normal(answer)].add(row.image_id)
    repeated = {text: len(ids) for text, ids in images_per_text.items() if len(ids) >= config.repeat_min_images}
    if repeated:
        for row in rows:
            if row.kind == "categorical":
                continue
            for answer in _answers(row):
                count = repeated.get(_normal(answer))
                if count:
                    flags.append(InstructionFlag(row.image_id, row.sample_id, "repeated_answer",
                                                 f"the same answer is given for {count} images: {answer[:60]!r}"))
    return flags


def flags_by_image(flags: Iterable[InstructionFlag]) -> dict[str, tuple[list[str], list[str]]]:
    """Per image: the distinct codes (in :data:`FLAG_CODES` order) and every flag described as a line."""
    codes: dict[str, set[str]] = defaultdict(set)
    lines: dict[str, list[str]] = defaultdict(list)
    for flag in flags:
        codes[flag.image_id].add(flag.code)
        lines[flag.image_id].append(flag.describe())
    return {image_id: ([c for c in FLAG_CODES if c in codes[image_id]], lines[image_id]) for image_id in codes}
