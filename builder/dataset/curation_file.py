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
        """Read and check a decisions file; errors name the file and the field. Emotions compare by name,
        trimmed and case-folded; an id relabelled twice, or both excluded and relabelled, is refused."""
        path = Path(path)
        document = _read_document(path)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise UsageError(f"{path}: field 'format' must be {FORMAT!r}")
        by_name = {emotion.strip().casefold(): emotion for emotion in emotions}
        exclude: dict[str, str] = {}
        relabel: dict[str, tuple[str, str]] = {}
        relabelled_at: dict[str, int] = {}
        for index, item in enumerate(_decision_list(document, "exclude", path)):
            image_id = _decision_id(item, f"{path}: exclude[{index}]")
            exclude[image_id] = _reason(item, "excluded during curation")
        for index, item in enumerate(_decision_list(document, "relabel", path)):
            where = f"{path}: relabel[{index}]"
            image_id = _decision_id(item, where)
            emotion = item.get("emotion")
            label = by_name.get(emotion.strip().casefold()) if isinstance(emotion, str) else None
            if label is None:
                raise UsageError(f"{where}: field 'emotion' {emotion!r:.60} is not one of {', '.join(emotions)}")
            if image_id in exclude:
                raise UsageError(f"{where}: id {image_id!r} is also excluded")
            if image_id in relabel:
                raise UsageError(f"{where}: id {image_id!r} is already relabelled by relabel[{relabelled_at[image_id]}]")
            relabel[image_id] = (label, _reason(item, "relabelled during curation"))
            relabelled_at[image_id] = index
        return cls(exclude, relabel, str(path))

    def names(self, image_id: str) -> bool:
        """Whether a decision names ``image_id``."""
        return image_id in self.exclude or image_id in self.relabel

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


def _read_document(path: Path) -> object:
    """The parsed JSON of a decisions file that is a regular file (a FIFO or device is never opened)."""
    import os
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"{path}: curation file is not a regular file; not opened")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{path}: curation file not found") from None
    except RecursionError:
        raise UsageError(f"{path}: curation file is not valid JSON (nested too deeply)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: curation file is not valid JSON ({str(exc)[:120]})") from None


def _decision_list(document: dict, key: str, path: Path) -> list:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise UsageError(f"{path}: field {key!r} must be a list of decisions, got {value!r:.60}")
    return value


def _decision_id(item: object, where: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
        raise UsageError(f"{where}: field 'id' must be a non-empty string")
    return item["id"].strip()


def _reason(item: dict, default: str) -> str:
    reason = item.get("reason")
    return reason if isinstance(reason, str) and reason.strip() else default
