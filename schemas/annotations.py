"""Schema of the annotation table: one row per EmoSet image that passed the file-level checks."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.vocab import Vocabulary

#: Brightness and colorfulness are annotated on this grid.
LEVEL_STEP = 0.1


def _on_grid(series: pd.Series) -> pd.Series:
    scaled = series / LEVEL_STEP
    return series.isna() | ((scaled - scaled.round()).abs() < 1e-6)


class AnnotationModel(pa.DataFrameModel):
    """Type, range and grid rules; the vocabulary rules are added by :func:`annotation_schema`."""

    id: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    split: Series[str] = pa.Field(str_length={"min_value": 1})
    emotion: Series[str]
    image: Series[str]
    brightness: Series[float] = pa.Field(nullable=True, ge=0.0, le=1.0)
    colorfulness: Series[float] = pa.Field(nullable=True, ge=0.0, le=1.0)
    scene: Series[str] | None = pa.Field(nullable=True)
    objects: Series[object]
    facial_expression: Series[str] = pa.Field(nullable=True)
    human_action: Series[str] = pa.Field(nullable=True)

    @pa.check("brightness", "colorfulness", name="on_0.1_grid")
    def level_on_grid(cls, series: Series[float]) -> Series[bool]:
        return _on_grid(series)

    class Config:
        strict = True
        coerce = False


def _isin(labels: frozenset[str] | tuple[str, ...], vocab_name: str) -> pa.Check:
    allowed = sorted(labels)
    return pa.Check(lambda series: series.isna() | series.isin(allowed), ignore_na=False,
                    name=f"in_{vocab_name}_vocabulary")


def _all_in(labels: frozenset[str], vocab_name: str) -> pa.Check:
    return pa.Check(
        lambda values: isinstance(values, (list, tuple)) and all(isinstance(v, str) and v in labels for v in values),
        element_wise=True,
        name=f"in_{vocab_name}_vocabulary",
    )


def annotation_schema(vocab: Vocabulary) -> pa.DataFrameSchema:
    """The annotation schema bound to ``vocab`` (scene values must already be normalised)."""
    schema = AnnotationModel.to_schema().update_column("id", report_duplicates="exclude_first")
    extra = {
        "emotion": _isin(vocab.emotions, "emotion"),
        "scene": _isin(vocab.scenes, "scene"),
        "objects": _all_in(vocab.objects, "object"),
        "facial_expression": _isin(vocab.facial_expressions, "facial_expression"),
        "human_action": _isin(vocab.human_actions, "human_action"),
    }
    return schema.update_columns(
        {name: {"checks": [*schema.columns[name].checks, check]} for name, check in extra.items()}
    )
