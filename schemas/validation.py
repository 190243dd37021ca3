"""Lazy pandera validation that splits a frame into accepted rows and per-row rejection reasons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors


@dataclass(frozen=True)
class RowFailure:
    """Why one row failed: the offending column (or ``None`` for frame-level checks), the check, the value."""

    column: str | None
    check: str
    value: object

    def describe(self) -> str:
        if self.column is None:
            return f"row failed {self.check}"
        return f"field '{self.column}' failed {self.check} (value {self.value!r:.200})"


@dataclass
class ValidationOutcome:
    """Rows that passed, and the failures of each rejected row keyed by the frame's index label."""

    valid: pd.DataFrame
    failures: dict[object, list[RowFailure]]


def validate_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> ValidationOutcome:
    """Validate ``frame`` lazily; never raises for bad rows, returns them as failures instead.

    Failures that name no row (a missing column, a wrong dtype for the whole column) reject every row,
    so nothing slips through unchecked.
    """
    try:
        return ValidationOutcome(schema.validate(frame, lazy=True), {})
    except SchemaErrors as err:
        cases = err.failure_cases
    failures: dict[object, list[RowFailure]] = defaultdict(list)
    everywhere: list[RowFailure] = []
    for context, column, check, value, index in zip(
        cases["schema_context"], cases["column"], cases["check"], cases["failure_case"], cases["index"], strict=True
    ):
        if index is None or (isinstance(index, float) and pd.isna(index)):
            everywhere.append(RowFailure(column if isinstance(column, str) else None, str(check), value))
        elif context == "DataFrameSchema":  # a row-wise check over several columns: one failure per row
            failure = RowFailure(None, str(check), None)
            if failure not in failures[index]:
                failures[index].append(failure)
        else:
            failures[index].append(RowFailure(column if isinstance(column, str) else None, str(check), value))
    if everywhere:
        for index in frame.index:
            failures[index].extend(everywhere)
    valid = frame.drop(index=[i for i in failures if i in frame.index])
    return ValidationOutcome(valid, dict(failures))
