"""Schema of generated instruction samples (LLaVA conversation format), checked before they enter a dataset."""

from __future__ import annotations

import copy
import re

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.vocab import Vocabulary

#: The image placeholder that must open the first human turn, once.
IMAGE_TOKEN = "<image>"
#: Longest accepted turn, in characters.
MAX_TURN_CHARS = 4000
#: Phrases that reveal the generation context (or a chat model's boilerplate) inside an answer.
LEAKAGE_PHRASES: tuple[str, ...] = (
    "the caption", "the attributes", "the attribute list", "the annotation", "as an ai", "language model",
    "the provided information", "the given information", "based on the description",
)
_LEAKAGE = re.compile("|".join(re.escape(p) for p in LEAKAGE_PHRASES), re.IGNORECASE)
#: Instruction kinds a dataset may hold.
KIND_VALUES: tuple[str, ...] = ("categorical", "conversation", "reasoning")


def _roles_alternate(turns) -> bool:
    return (isinstance(turns, (list, tuple)) and len(turns) >= 2 and len(turns) % 2 == 0
            and all(isinstance(t, dict) and t.get("from") == ("human" if i % 2 == 0 else "gpt")
                    for i, t in enumerate(turns)))


def _values(turns) -> list[str]:
    return [t.get("value") if isinstance(t, dict) else None for t in (turns if isinstance(turns, (list, tuple)) else [])]


def _image_token_placement(turns) -> bool:
    values = _values(turns)
    if not values or not all(isinstance(v, str) for v in values):
        return False
    return values[0].startswith(IMAGE_TOKEN) and sum(v.count(IMAGE_TOKEN) for v in values) == 1


def _turn_length(turns) -> bool:
    values = _values(turns)
    return bool(values) and all(
        isinstance(v, str) and 0 < len(v.replace(IMAGE_TOKEN, "").strip()) and len(v) <= MAX_TURN_CHARS for v in values
    )


def _no_leakage(turns) -> bool:
    return not any(isinstance(v, str) and _LEAKAGE.search(v) for v in _values(turns)[1::2])


class InstructionModel(pa.DataFrameModel):
    """Structural rules of instruction rows; vocabulary and answer rules come from :func:`instruction_schema`."""

    id: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    image_id: Series[str] = pa.Field(str_length={"min_value": 1})
    split: Series[str]
    emotion: Series[str]
    kind: Series[str] = pa.Field(isin=list(KIND_VALUES))
    caption: Series[str]
    conversations: Series[object]

    @pa.check("conversations", element_wise=True, name="roles_alternate")
    def roles_alternate(cls, turns) -> bool:
        return _roles_alternate(turns)

    @pa.check("conversations", element_wise=True, name="image_token_placement")
    def image_token_placement(cls, turns) -> bool:
        return _image_token_placement(turns)

    @pa.check("conversations", element_wise=True, name="turn_length")
    def turn_length(cls, turns) -> bool:
        return _turn_length(turns)

    @pa.check("conversations", element_wise=True, name="no_leakage")
    def no_leakage(cls, turns) -> bool:
        return _no_leakage(turns)

    class Config:
        strict = "filter"
        coerce = False


def instruction_schema(vocab: Vocabulary, categorical_answer_prefix: str) -> pa.DataFrameSchema:
    """The instruction schema bound to ``vocab``; categorical answers must be ``<prefix> <emotion>``."""
    schema = InstructionModel.to_schema().update_column("id", report_duplicates="exclude_first")
    emotions = list(vocab.emotions)
    emotion = schema.columns["emotion"]
    schema = schema.update_column(
        "emotion", checks=[*emotion.checks, pa.Check(lambda s: s.isin(emotions), name="in_emotion_vocabulary")]
    )

    def categorical_answer_matches(frame: pd.DataFrame) -> pd.Series:
        answers = pd.Series([v[1] if len(v) == 2 else None for v in map(_values, frame["conversations"])],
                            index=frame.index, dtype="object")
        return (frame["kind"] != "categorical") | (answers == categorical_answer_prefix + " " + frame["emotion"])

    bound = copy.deepcopy(schema)
    bound.checks = [*schema.checks, pa.Check(categorical_answer_matches, name="categorical_answer")]
    return bound
