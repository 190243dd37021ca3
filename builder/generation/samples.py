"""Assembling :class:`InstructionRecord` values from an item and its question/answer pairs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from builder.generation.base import GenerationItem, GeneratorInfo, InstructionRecord
from builder.generation.turns import split_record
from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.protocol import QAPair, qa_conversation

STAGE = "generation"


def content_hash(*parts: str | bytes, length: int = 12) -> str:
    """A short sha256 hex digest of ``parts`` (the prompt versions are such hashes)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:length]


def sample_id(image_id: str, kind: str) -> str:
    """The id of an image's sample of one kind: ``<image_id>-<kind>``."""
    return f"{image_id}-{kind}"


def make_record(record: SourceRecord, caption: str, kind: str, conversation: tuple[dict, ...],
                info: GeneratorInfo) -> InstructionRecord:
    """An instruction record for ``record`` with the given conversation."""
    return InstructionRecord(
        id=sample_id(record.id, kind), image_id=record.id, split=record.split, image_path=record.image_path,
        emotion=record.emotion, attributes=record.attributes(), caption=caption, kind=kind,
        conversations=conversation, generator=info,
    )


def qa_records(item: GenerationItem, pairs: Sequence[QAPair], info: GeneratorInfo, *,
               split_turns: bool) -> list[InstructionRecord]:
    """Records for ``pairs``: one conversation, or one single-QA record per pair when ``split_turns``."""
    record = make_record(item.record, item.caption, item.kind, qa_conversation(pairs), info)
    return split_record(record) if split_turns else [record]


def generation_quarantine(item: GenerationItem, code: str, reason: str, raw: object = None) -> QuarantineEntry:
    """A quarantine entry for an item that produced no sample (id ``<image_id>-<kind>``)."""
    return QuarantineEntry(
        id=sample_id(item.record.id, item.kind), split=item.record.split, source=item.record.image_path,
        stage=STAGE, code=code, reason=f"{item.record.id} ({item.kind}): {reason}", raw=raw,
    )
