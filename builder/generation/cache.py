"""Persistent response cache (SQLite, WAL) so that an interrupted run resumes without repeating requests.

Each response is committed as it arrives. The key is a sha256 of the backend, model, endpoint (host, port
and path, never credentials), prompt version, rendered messages and sampling parameters; the API key is
never part of it nor stored anywhere in the database.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from builder.storage import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    model TEXT NOT NULL,
    content TEXT,
    refusal TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    logprobs TEXT
)
"""
_COLUMNS = "content, refusal, finish_reason, prompt_tokens, completion_tokens, logprobs"


def endpoint_id(base_url: str | None) -> str:
    """``host[:port]/path`` of an endpoint, without scheme or credentials (``api.openai.com/v1`` by default)."""
    if not base_url:
        return "api.openai.com/v1"
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path.rstrip('/')}"


def response_key(*, backend: str, model: str, base_url: str | None, prompt_version: str, messages: list[dict],
                 params: dict) -> str:
    """The cache key of one request (sha256 hex)."""
    document = {"backend": backend, "model": model, "endpoint": endpoint_id(base_url),
                "prompt_version": prompt_version, "messages": messages, "params": params}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """What is kept of one chat completion: the assistant message, the token counts and, when the request asked
    for them, the message tokens' log-probabilities (the ``logprobs.content`` list, as JSON)."""

    content: str | None
    refusal: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: str | None = None


class ResponseCache:
    """Key -> :class:`StoredResponse`, committed one row at a time."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = connect(self.path)
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
        if "logprobs" not in columns:  # a cache written before log-probabilities were kept
            self._db.execute("ALTER TABLE responses ADD COLUMN logprobs TEXT")
        self._db.commit()

    def get(self, key: str) -> StoredResponse | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else StoredResponse(*row)

    def put(self, key: str, item: str, model: str, response: StoredResponse) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO responses (key, item, model, {_COLUMNS}, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, item, model, response.content, response.refusal, response.finish_reason,
             response.prompt_tokens, response.completion_tokens, response.logprobs, time.time()))
        self._db.commit()

    def items(self) -> list[str]:
        """The item ids (``<image_id>-<kind>``) with a stored response."""
        return [row[0] for row in self._db.execute("SELECT item FROM responses ORDER BY item")]

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResponseCache:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()
