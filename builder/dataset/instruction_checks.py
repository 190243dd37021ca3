"""Boundary check of generated instruction records: pandera schema -> accepted records + quarantine."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from builder.generation.base import InstructionRecord
from builder.sources.records import QuarantineEntry
from schemas.instructions import instruction_schema
from schemas.protocol import CATEGORICAL_ANSWER_PREFIX
from schemas.validation import validate_frame
from schemas.vocab import Vocabulary

STAGE = "validation"
#: When a sample fails several checks, its quarantine code is the first failed check in this order.
CHECK_PRIORITY = ("field_uniqueness", "in_emotion_vocabulary", "roles_alternate", "image_token_placement",
                  "turn_length", "no_leakage", "categorical_answer")


class InstructionChecker:
    """Validates batches of instruction records against the instruction schema bound to a vocabulary."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.schema = instruction_schema(vocab, CATEGORICAL_ANSWER_PREFIX)

    def check(self, records: Sequence[InstructionRecord]) -> tuple[list[InstructionRecord], list[QuarantineEntry]]:
        """Split ``records`` into accepted ones and quarantine entries (reason + raw record), order kept."""
        if not records:
            return [], []
        frame = pd.DataFrame({
            "id": [r.id for r in records],
            "image_id": [r.image_id for r in records],
            "split": [r.split for r in records],
            "emotion": [r.emotion for r in records],
            "kind": [r.kind for r in records],
            "caption": [r.caption for r in records],
            "conversations": pd.Series([list(r.conversations) for r in records], dtype="object"),
        })
        outcome = validate_frame(frame, self.schema)
        accepted, rejected = [], []
        for position, record in enumerate(records):
            failures = outcome.failures.get(position)
            if not failures:
                accepted.append(record)
                continue
            failed = {f.check for f in failures}
            check = min(failed, key=lambda c: CHECK_PRIORITY.index(c) if c in CHECK_PRIORITY else len(CHECK_PRIORITY))
            code = "duplicate_id" if check == "field_uniqueness" else check
            rejected.append(QuarantineEntry(
                id=record.id, split=record.split, source=record.image_path, stage=STAGE, code=code,
                reason=f"{record.kind} sample {record.id}: " + "; ".join(f.describe() for f in failures),
                field=next((f.column for f in failures if f.column), "conversations"),
                raw={"conversations": list(record.conversations), "generator": record.generator.as_dict()},
            ))
        return accepted, rejected
