"""Instruction records split into single-QA samples, as EmoVIT split its multi-turn answers.

The conversations themselves (turns, question/answer pairs, the split of one conversation) are the protocol
between the stages: :mod:`schemas.protocol`.
"""

from __future__ import annotations

import dataclasses

from schemas.protocol import split_conversation


def split_record(record):
    """Split an :class:`~builder.generation.base.InstructionRecord` into single-QA records.

    Ids become ``<image_id>-<kind>-<n>`` (``n`` from 0). Single-turn categorical records are returned as is.
    """
    if record.kind == "categorical":
        return [record]
    return [dataclasses.replace(record, id=f"{record.image_id}-{record.kind}-{n}", conversations=conversation)
            for n, conversation in enumerate(split_conversation(record.conversations))]
