"""Run bookkeeping shared by every command: config fingerprints, JSON outputs, per-split accounting."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Dataclasses, paths, tuples and sets as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    return value


def fingerprint(config: Any) -> str:
    """A short stable hash of a config (dataclass or dict): same config, same fingerprint."""
    canonical = json.dumps(to_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def write_json(path: str | Path, document: Any) -> None:
    """Write ``document`` as indented, key-sorted UTF-8 JSON (strict: NaN and infinities are refused)."""
    text = json.dumps(to_jsonable(document), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


@dataclass
class SplitTally:
    """Accounting for one split: every input is either kept or quarantined."""

    inputs: int = 0
    kept: int = 0
    quarantined: int = 0
    emotions: Counter = field(default_factory=Counter)
    quarantine_codes: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "inputs": self.inputs, "kept": self.kept, "quarantined": self.quarantined,
            "balanced": self.inputs == self.kept + self.quarantined,
            "emotions": dict(sorted(self.emotions.items())),
            "quarantine_codes": dict(sorted(self.quarantine_codes.items())),
        }


def summary_table(tallies: dict[str, SplitTally], emotions: Iterable[str]) -> str:
    """A plain-text table: one row per split, one column per emotion, then kept/quarantined/inputs."""
    from tabulate import tabulate

    emotions = list(emotions)
    rows = [[split, *(t.emotions.get(e, 0) for e in emotions), t.kept, t.quarantined, t.inputs]
            for split, t in tallies.items()]
    return tabulate(rows, headers=["split", *emotions, "kept", "quarantined", "inputs"], tablefmt="simple")
