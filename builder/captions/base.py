"""The captioner interface, its outcome and the on-disk caption cache shared by every captioner."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from builder.sources.records import QuarantineEntry, SourceRecord

STAGE = "caption"


@dataclass
class CaptionOutcome:
    """Captions by image id, the images left without one, and how many were computed vs. read from cache."""

    captions: dict[str, str] = field(default_factory=dict)
    missing: list[QuarantineEntry] = field(default_factory=list)
    computed: int = 0
    cached: int = 0


class Captioner(Protocol):
    """Something that captions source records (``attributes``, ``file:<path>``, ``blip2:<model>``)."""

    name: str

    def captions(self, records: Sequence[SourceRecord], *, progress: bool = True, cache=None) -> CaptionOutcome:
        ...


def missing_entry(record: SourceRecord, code: str, reason: str, source: str | None = None) -> QuarantineEntry:
    """A quarantine entry for an image that got no caption."""
    return QuarantineEntry(id=record.id, split=record.split, source=source or record.image_path, stage=STAGE,
                           code=code, reason=reason)


class CaptionCache:
    """Captions keyed by (captioner key, content key) in ``<cache_dir>/captions.sqlite``, committed per batch.

    The content key says what the caption was made from (by default the sha256 of the image's bytes), so a
    second tree with the same ids, or an edited image, never reuses a stale caption. Writes take SQLite's
    write lock up front (``BEGIN IMMEDIATE``), so several processes of one machine may write at once: each
    waits for the lock (up to the connection's 30 s busy timeout) instead of failing half-way.
    """

    def __init__(self, cache_dir: str | Path):
        from builder.storage import connect

        self.path = Path(cache_dir) / "captions.sqlite"
        self._db = connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS captions_by_content (captioner TEXT NOT NULL, "
                         "content TEXT NOT NULL, caption TEXT NOT NULL, created REAL NOT NULL, "
                         "PRIMARY KEY (captioner, content))")
        self._db.commit()

    @staticmethod
    def lookup(db, captioner: str, keys: Sequence[str]) -> dict[str, str]:
        """Content key -> caption for the keys found in the open database ``db``."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT content, caption FROM captions_by_content WHERE captioner = ? AND content IN ({marks})",
                [captioner, *chunk])
            found.update(rows)
        return found

    def get_many(self, captioner: str, keys: Sequence[str]) -> dict[str, str]:
        """Content key -> caption for the keys found."""
        return self.lookup(self._db, captioner, keys)

    def put_many(self, captioner: str, captions: Iterable[tuple[str, str]]) -> None:
        """Store (content key, caption) pairs and commit."""
        self.put_rows([(captioner, key, caption) for key, caption in captions])

    def put_rows(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Store (captioner key, content key, caption) rows in one transaction."""
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO captions_by_content VALUES (?, ?, ?, ?)",
                                 [(*row, now) for row in rows])
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file (then a reader without the log sees everything)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._db.close()


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


class CachingCaptioner:
    """Base of the captioners: cache look-up, batching, progress; subclasses implement :meth:`compute`.

    Attributes:
        name: the spec the captioner was made from (e.g. ``blip2:Salesforce/blip2-opt-2.7b``).
        cache_key: ``name`` plus anything else that changes the output (a file's hash, generation settings).
        batch_size: records handed to :meth:`compute` at a time; each batch is committed to the cache.
        cacheable: False for captioners cheaper to recompute than to look up.
        takes_options: whether keyword options (batch size, device ...) configure it (:func:`get_captioner`).
    """

    name: str = ""
    batch_size: int = 256
    cacheable: bool = True
    takes_options: bool = False

    def __init__(self, cache_dir: str | Path | None = None):
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    @property
    def cache_key(self) -> str:
        return self.name

    def content_key(self, record: SourceRecord) -> str | None:
        """What a caption of ``record`` is made from: by default the sha256 of its image bytes (None: the
        image cannot be read, so nothing is cached and :meth:`compute` reports the problem)."""
        return file_sha256(record.image_path)

    def compute(self, records: Sequence[SourceRecord]) -> tuple[dict[str, str], list[QuarantineEntry]]:
        """Captions for ``records`` (by id) and entries for those that cannot have one."""
        raise NotImplementedError

    def captions(self, records: Sequence[SourceRecord], *, progress: bool = True, cache=None) -> CaptionOutcome:
        """Captions of ``records``: cached ones looked up, the others computed in batches and stored.

        ``cache``: where to look up and store them (an object with ``get_many`` / ``put_many``, e.g. a
        :class:`~builder.captions.parallel.RankCaptionCache`); default the cache under ``cache_dir``.
        """
        from tqdm.auto import tqdm

        unique = list({record.id: record for record in records}.values())
        outcome = CaptionOutcome()
        own = cache is None and self.cache_dir is not None and self.cacheable
        if own:
            cache = CaptionCache(self.cache_dir)
        elif not self.cacheable:
            cache = None
        try:
            key = self.cache_key
            contents: dict[str, str | None] = {}
            if cache is not None:
                contents = {record.id: self.content_key(record) for record in unique}
                stored = cache.get_many(key, [c for c in contents.values() if c is not None])
                outcome.captions.update({i: stored[c] for i, c in contents.items() if c in stored})
                outcome.cached = len(outcome.captions)
            todo = [record for record in unique if record.id not in outcome.captions]
            with tqdm(total=len(unique), initial=outcome.cached, desc=f"caption ({self.name})", unit="img",
                      disable=not progress) as bar:
                for start in range(0, len(todo), self.batch_size):
                    batch = todo[start:start + self.batch_size]
                    captions, missing = self.compute(batch)
                    outcome.captions.update(captions)
                    outcome.missing.extend(missing)
                    outcome.computed += len(captions)
                    if cache is not None:
                        cache.put_many(key, [(contents[i], c) for i, c in captions.items()
                                             if contents.get(i) is not None])
                    bar.update(len(batch))
        finally:
            if own:
                cache.close()
        return outcome
