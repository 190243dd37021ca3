"""Curation decisions: the file a curation session writes and the next build reads.

Format (JSON, ``format`` is required)::

    {
      "format": "emovit-curation/1",
      "exclude": [{"id": "awe_00012", "reason": "near-duplicate of awe_00010"}],
      "relabel": [{"id": "fear_00031", "emotion": "sadness", "reason": "annotator error"}]
    }

``id`` is the EmoSet image id. An excluded image is quarantined by the build (code ``curation_excluded``,
with the reason), never silently dropped; a relabelled image keeps its attributes and gets the new emotion.
An id may not be both excluded and relabelled.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from builder.sources.records import QuarantineEntry, SourceRecord
from schemas.errors import UsageError

FORMAT = "emovit-curation/1"
STAGE = "curation"


@dataclass(frozen=True)
class CurationDecisions:
    """Excluded ids (with reasons) and relabels (id -> (emotion, reason))."""

    exclude: dict[str, str]
    relabel: dict[str, tuple[str, str]]
    source: str = "<memory>"

    @classmethod
    def load(cls, path: str | Path, emotions: tuple[str, ...]) -> CurationDecisions:
        """Read and check a decisions file; errors name the file and the field."""
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path}: curation file not found") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: curation file is not valid JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise UsageError(f"{path}: field 'format' must be {FORMAT!r}")
        exclude: dict[str, str] = {}
        relabel: dict[str, tuple[str, str]] = {}
        for index, item in enumerate(document.get("exclude", [])):
            where = f"{path}: exclude[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise UsageError(f"{where}: field 'id' must be a non-empty string")
            exclude[item["id"]] = str(item.get("reason") or "excluded during curation")
        for index, item in enumerate(document.get("relabel", [])):
            where = f"{path}: relabel[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise UsageError(f"{where}: field 'id' must be a non-empty string")
            if item.get("emotion") not in emotions:
                raise UsageError(f"{where}: field 'emotion' {item.get('emotion')!r} is not one of {', '.join(emotions)}")
            if item["id"] in exclude:
                raise UsageError(f"{where}: id {item['id']!r} is also excluded")
            relabel[item["id"]] = (item["emotion"], str(item.get("reason") or "relabelled during curation"))
        return cls(exclude, relabel, str(path))

    def to_json(self) -> dict:
        """The decisions as a document in the file format."""
        return {
            "format": FORMAT,
            "exclude": [{"id": i, "reason": r} for i, r in sorted(self.exclude.items())],
            "relabel": [{"id": i, "emotion": e, "reason": r} for i, (e, r) in sorted(self.relabel.items())],
        }

    def apply(self, record: SourceRecord) -> SourceRecord | QuarantineEntry:
        """The record as curated: unchanged, relabelled, or a quarantine entry when excluded."""
        if record.id in self.exclude:
            return QuarantineEntry(id=record.id, split=record.split, source=self.source, stage=STAGE,
                                   code="curation_excluded", reason=f"{self.source}: excluded: {self.exclude[record.id]}",
                                   field="id")
        if record.id in self.relabel:
            return dataclasses.replace(record, emotion=self.relabel[record.id][0])
        return record
