"""The local side of the Batch API backend: request files written as JSONL, and what was written, submitted
and received, kept in ``<cache_dir>/batches.sqlite`` beside the response cache.

Two tables:

* ``requests``: one row per request key (the response-cache key, also the line's ``custom_id``): the item it
  answers, the endpoint, its status, the local input file and the batch that hold it, how many times it was
  submitted, the last error, and whether a build report has counted it yet (``reported``);
* ``files``: one row per local input file: endpoint, requests, bytes, the uploaded file id, the batch id,
  the batch's last known status and the run that wrote it (``host:pid``).

Request statuses: ``written`` (in a local input file, not submitted), ``submitted`` (in a batch on the
server), ``answered`` (the response is in the response cache), ``retry`` (the first attempt failed; it goes
into a retry batch), ``failed`` (no answer after the retry). File statuses: ``writing``, ``uploaded``,
``submitted``, ``done``.

A batch's id and its request keys are committed as soon as ``batches.create`` returns, before anything waits
on it, so a killed run resumes by polling the same batches. Nothing here ever holds a credential.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from builder.storage import connect
from schemas.jsonlines import dumps_line

WRITTEN, SUBMITTED, ANSWERED, RETRY, FAILED = "written", "submitted", "answered", "retry", "failed"
#: A request is submitted at most this many times per build (the first attempt and one retry).
MAX_ATTEMPTS = 2
#: The Batch API's limits per input file (requests, bytes: "up to 50,000 requests ... up to 200 MB").
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200_000_000
#: Rows written between commits while streaming (they are only worth keeping once their file is submitted).
COMMIT_EVERY = 2000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS requests (
        key TEXT PRIMARY KEY, item TEXT NOT NULL, endpoint TEXT NOT NULL, status TEXT NOT NULL, file TEXT,
        batch TEXT, attempts INTEGER NOT NULL DEFAULT 0, error TEXT, error_status INTEGER,
        reported INTEGER NOT NULL DEFAULT 1, updated REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS requests_by_file ON requests (file, status)",
    "CREATE INDEX IF NOT EXISTS requests_by_batch ON requests (batch, status)",
    """CREATE TABLE IF NOT EXISTS files (
        path TEXT PRIMARY KEY, endpoint TEXT NOT NULL, status TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0, file_id TEXT, batch_id TEXT, batch_status TEXT, owner TEXT,
        created REAL NOT NULL)""",
)


@dataclass(frozen=True)
class RequestRow:
    """One request as the state knows it."""

    key: str
    item: str
    endpoint: str
    status: str
    file: str | None
    batch: str | None
    attempts: int
    error: str | None
    error_status: int | None
    reported: int


@dataclass(frozen=True)
class FileRow:
    """One local input file and the batch made of it."""

    path: str
    endpoint: str
    status: str
    requests: int
    bytes: int
    file_id: str | None
    batch_id: str | None
    batch_status: str | None
    owner: str | None
    created: float


class BatchState:
    """Requests and batches of the Batch API backend in one SQLite database (WAL; several processes may read
    and claim rows at once)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = connect(self.path)
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.commit()
        self._pending = 0

    # ------------------------------------------------------------------ reading
    def get(self, key: str) -> RequestRow | None:
        row = self._db.execute("SELECT key, item, endpoint, status, file, batch, attempts, error, error_status, "
                               "reported FROM requests WHERE key = ?", (key,)).fetchone()
        return None if row is None else RequestRow(*row)

    def files(self, endpoint: str, *statuses: str) -> list[FileRow]:
        marks = ",".join("?" * len(statuses))
        rows = self._db.execute(f"SELECT * FROM files WHERE endpoint = ? AND status IN ({marks}) ORDER BY created",
                                (endpoint, *statuses))
        return [FileRow(*row) for row in rows]

    def batch_file(self, batch_id: str) -> FileRow | None:
        row = self._db.execute("SELECT * FROM files WHERE batch_id = ?", (batch_id,)).fetchone()
        return None if row is None else FileRow(*row)

    def count(self, status: str, *, batch: str) -> int:
        """Requests of one batch with ``status``."""
        return self._db.execute("SELECT COUNT(*) FROM requests WHERE status = ? AND batch = ?",
                                (status, batch)).fetchone()[0]

    # ------------------------------------------------------------------ writing requests
    def write(self, key: str, item: str, endpoint: str, file: str, attempts: int) -> None:
        """Record a request written into ``file`` (committed in groups: it only counts once submitted)."""
        self._db.execute("INSERT OR REPLACE INTO requests (key, item, endpoint, status, file, batch, attempts, "
                         "reported, updated) VALUES (?, ?, ?, ?, ?, NULL, ?, 1, ?)",
                         (key, item, endpoint, WRITTEN, file, attempts, time.time()))
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        self._db.commit()
        self._pending = 0

    def start_file(self, path: str, endpoint: str, owner: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO files (path, endpoint, status, owner, created) "
                         "VALUES (?, ?, 'writing', ?, ?)", (path, endpoint, owner, time.time()))
        self.commit()

    def finish_file(self, path: str, requests: int, size: int) -> None:
        self._db.execute("UPDATE files SET requests = ?, bytes = ? WHERE path = ?", (requests, size, path))
        self.commit()

    def uploaded(self, path: str, file_id: str) -> None:
        self._db.execute("UPDATE files SET status = 'uploaded', file_id = ? WHERE path = ?", (file_id, path))
        self.commit()

    def submitted(self, path: str, batch_id: str, batch_status: str) -> None:
        """The batch made of ``path`` exists: its requests are in flight (committed before any wait)."""
        self._db.execute("UPDATE files SET status = 'submitted', batch_id = ?, batch_status = ? WHERE path = ?",
                         (batch_id, batch_status, path))
        self._db.execute("UPDATE requests SET status = ?, batch = ?, attempts = attempts + 1, updated = ? "
                         "WHERE file = ? AND status = ?", (SUBMITTED, batch_id, time.time(), path, WRITTEN))
        self.commit()

    def discard_file(self, path: str) -> None:
        """Forget an input file that never became a batch: its requests are written again when needed (a
        request that already failed once stays marked for its retry)."""
        self._db.execute("UPDATE requests SET status = ?, file = NULL WHERE file = ? AND status = ? AND attempts > 0",
                         (RETRY, path, WRITTEN))
        self._db.execute("DELETE FROM requests WHERE file = ? AND status = ?", (path, WRITTEN))
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        self.commit()

    # ------------------------------------------------------------------ results
    def batch_status(self, batch_id: str, status: str) -> None:
        self._db.execute("UPDATE files SET batch_status = ? WHERE batch_id = ?", (status, batch_id))
        self.commit()

    def answered(self, key: str) -> None:
        """The request's response is in the response cache; the next report counts it as fresh."""
        self._db.execute("UPDATE requests SET status = ?, error = NULL, error_status = NULL, reported = 0, "
                         "updated = ? WHERE key = ?", (ANSWERED, time.time(), key))
        self._pending += 1

    def attempt_failed(self, key: str, error: str, status: int | None = None) -> None:
        """One submission got no usable answer: the request is retried once, then counts as failed."""
        self._db.execute(
            "UPDATE requests SET status = CASE WHEN attempts >= ? THEN ? ELSE ? END, error = ?, error_status = ?, "
            "reported = CASE WHEN attempts >= ? THEN 0 ELSE reported END, updated = ? WHERE key = ?",
            (MAX_ATTEMPTS, FAILED, RETRY, error, status, MAX_ATTEMPTS, time.time(), key))
        self._pending += 1

    def fail_unanswered(self, batch_id: str, error: str) -> int:
        """Every request of an ended batch still without a result failed once; returns how many of them have
        now failed for good."""
        final = self._db.execute("SELECT COUNT(*) FROM requests WHERE batch = ? AND status = ? AND attempts >= ?",
                                 (batch_id, SUBMITTED, MAX_ATTEMPTS)).fetchone()[0]
        self._db.execute(
            "UPDATE requests SET status = CASE WHEN attempts >= ? THEN ? ELSE ? END, error = ?, error_status = NULL, "
            "reported = CASE WHEN attempts >= ? THEN 0 ELSE reported END, updated = ? WHERE batch = ? AND status = ?",
            (MAX_ATTEMPTS, FAILED, RETRY, error, MAX_ATTEMPTS, time.time(), batch_id, SUBMITTED))
        self.commit()
        return final

    def batch_done(self, batch_id: str, status: str) -> None:
        self._db.execute("UPDATE files SET status = 'done', batch_status = ? WHERE batch_id = ?", (status, batch_id))
        self.commit()

    def retry_files(self, batch_ids: list[str]) -> list[str]:
        """Input files of these batches that hold requests waiting for their retry."""
        found = []
        for batch_id in batch_ids:
            row = self.batch_file(batch_id)
            if row is not None and self.count(RETRY, batch=batch_id):
                found.append(row.path)
        return found

    def claim(self, key: str) -> RequestRow | None:
        """The row of ``key`` if no report has counted it yet, marking it counted (atomic across processes)."""
        cursor = self._db.execute("UPDATE requests SET reported = 1 WHERE key = ? AND reported = 0", (key,))
        self._db.commit()
        return self.get(key) if cursor.rowcount == 1 else None

    def close(self) -> None:
        self._db.commit()
        self._db.close()


class RequestFiles:
    """Writes request lines into JSONL files under ``folder``, starting a new file before one would pass the
    Batch API's limits (``max_requests`` lines or ``max_bytes`` bytes). Lines go straight to disk."""

    def __init__(self, folder: str | Path, prefix: str, *, max_requests: int | None = None,
                 max_bytes: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_requests = MAX_REQUESTS_PER_FILE if max_requests is None else max_requests
        self.max_bytes = MAX_BYTES_PER_FILE if max_bytes is None else max_bytes
        self._handle = None
        self._number = 0
        self.path: Path | None = None
        self.requests = 0
        self.bytes = 0

    def fits(self, line: bytes) -> bool:
        """Whether ``line`` still fits into the open file."""
        return (self._handle is not None and self.requests < self.max_requests
                and self.bytes + len(line) <= self.max_bytes)

    def open(self) -> Path:
        self._number += 1
        self.path = self.folder / f"{self.prefix}-{self._number:04d}.jsonl"
        self._handle = open(self.path, "wb")  # noqa: SIM115 - kept open across add() calls, closed by close()
        self.requests = self.bytes = 0
        return self.path

    def add(self, line: bytes) -> None:
        if len(line) > self.max_bytes:
            raise ValueError(f"one request is {len(line)} bytes, more than a batch file may hold")
        self._handle.write(line)
        self.requests += 1
        self.bytes += len(line)

    def close(self) -> Path | None:
        """Close the open file; returns its path (None when no file was open)."""
        if self._handle is None:
            return None
        self._handle.close()
        self._handle = None
        return self.path


def request_line(key: str, body: dict, url: str) -> bytes:
    """One line of a Batch API input file (strict JSON, :mod:`schemas.jsonlines`)."""
    return dumps_line({"custom_id": key, "method": "POST", "url": url, "body": body}).encode("utf-8")
