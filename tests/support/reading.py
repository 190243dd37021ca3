"""Reading back what the commands write, for assertions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from schemas.protocol import IMAGE_TOKEN


def read_quarantine(path: str | Path) -> list[dict]:
    """A ``quarantine.jsonl`` file as dicts."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def image_token_count(conversation: Sequence[dict]) -> int:
    """How many times the image placeholder occurs across all turns (1 in a well-formed sample)."""
    return sum(turn["value"].count(IMAGE_TOKEN) for turn in conversation)
