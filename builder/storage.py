"""Where the builder's caches live and how they are opened: SQLite databases in WAL mode under one cache
folder, shared by the caption cache and the LLM response cache."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def default_cache_dir() -> Path:
    """Where captions and LLM responses are cached unless told otherwise: ``$EMOVIT_CACHE`` or
    ``~/.cache/emovit``."""
    return Path(os.environ.get("EMOVIT_CACHE") or Path.home() / ".cache" / "emovit")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating) a SQLite database in WAL mode, safe to kill at any point between commits."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection
