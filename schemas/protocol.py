"""Protocol facts shared by generation, training and evaluation: the categorical instruction, its answer
format, the LLaVA conversation layout and EmoVIT's original text normalisation."""

from __future__ import annotations

import re

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
__all__ = ["ALPHABETICAL_EMOTIONS", "CATEGORICAL_ANSWER_PREFIX", "CATEGORICAL_INSTRUCTION", "IMAGE_TOKEN", "KINDS",
           "categorical_answer", "categorical_instruction", "normalise_text", "strip_image_token", "with_image_token"]
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
