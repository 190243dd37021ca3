"""One (model, task) run directory: its key, its per-sample records, resume and the merge of rank shards.

Layout::

    RUN/config.json           resolved config, run key, task hash, dataset fingerprint, versions, device ...
    RUN/predictions.jsonl     one line per sample, in the task's sample order (written when all are scored)
    RUN/metrics.json          the figures of predictions.jsonl (the leaderboard recomputes them)
    RUN/shards/rank-N.jsonl   while scoring: what process N has scored so far, appended batch by batch
    RUN/run_log.jsonl         one line per session: samples found already scored, samples scored now

**Resume.** Every batch is appended to the process's shard and flushed to disk (``fsync``) before the next
batch starts, so a killed run loses at most the batch in flight. On restart the ids already in
``predictions.jsonl`` and in every shard are skipped (a torn last line, the one write a kill can interrupt,
is cut off first); only the rest is scored.

**Run key.** A fingerprint of everything that decides the predictions: the task file's hash, the model
(adapter, checkpoint identity, mode, options), the data fingerprint and the dtype. The batch size is not in
it (results do not depend on it). When the key of a directory's ``config.json`` differs (an edited task
file, another checkpoint), the old records are renamed ``*.stale-<old key>`` and never reused or mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from schemas.jsonlines import BadLine, dumps_line, parse_lines, read_text
from schemas.runinfo import to_jsonable

CONFIG = "config.json"
PREDICTIONS = "predictions.jsonl"
METRICS = "metrics.json"
SHARDS = "shards"
RUN_LOG = "run_log.jsonl"


def _read_lines(path: Path) -> list[dict]:
    """Complete JSON lines of ``path`` (split on ``\\n`` only, :mod:`schemas.jsonlines`); a torn final line
    (no ``\\n`` yet: a kill mid-write) and anything after a line that is not JSON are ignored."""
    if not path.is_file():
        return []
    text = read_text(path)
    complete = text[: text.rfind("\n") + 1]
    records = []
    for _, record in parse_lines(complete):
        if isinstance(record, BadLine):
            break
        records.append(record)
    return records


def _cut_torn_tail(path: Path) -> None:
    """Truncate ``path`` after its last complete line, so appends start on a fresh line."""
    if not path.is_file():
        return
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(keep)


class RunStore:
    """The records of one (model, task) run in ``directory`` under ``run_key``."""

    def __init__(self, directory: str | Path, run_key: str):
        self.directory = Path(directory)
        self.run_key = run_key

    @property
    def predictions(self) -> Path:
        return self.directory / PREDICTIONS

    def shard(self, rank: int) -> Path:
        return self.directory / SHARDS / f"rank-{rank}.jsonl"

    def stored_key(self) -> str | None:
        try:
            return json.loads((self.directory / CONFIG).read_text(encoding="utf-8")).get("run_key")
        except (OSError, ValueError):
            return None

    def open(self, config: dict) -> str | None:
        """Make the directory current for this key (main process); returns the stale key that was set aside."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = self.stored_key()
        if stale is not None and stale != self.run_key:
            for path in [self.predictions, self.directory / METRICS, *sorted((self.directory / SHARDS).glob("*.jsonl"))]:
                if path.is_file():
                    path.rename(path.with_name(f"{path.name}.stale-{stale}"))
        elif stale is None and (self.predictions.is_file() or (self.directory / SHARDS).is_dir()):
            for path in [self.predictions, *sorted((self.directory / SHARDS).glob("*.jsonl"))]:
                if path.is_file():
                    path.rename(path.with_name(f"{path.name}.stale-unknown"))
            stale = "unknown"
        else:
            stale = None
        document = json.dumps(to_jsonable({**config, "run_key": self.run_key}), indent=2, sort_keys=True,
                              ensure_ascii=False) + "\n"
        (self.directory / CONFIG).write_text(document, encoding="utf-8")
        return stale

    def records(self) -> list[dict]:
        """Every complete record written so far (merged file first, then the shards)."""
        found = _read_lines(self.predictions)
        for shard in sorted((self.directory / SHARDS).glob("rank-*.jsonl")):
            found.extend(_read_lines(shard))
        return found

    def done_ids(self) -> set[str]:
        return {record["id"] for record in self.records()}

    def complete(self, ids: list[str]) -> bool:
        """Whether ``predictions.jsonl`` holds exactly ``ids`` under this key (nothing left to do)."""
        if self.stored_key() != self.run_key or not self.predictions.is_file():
            return False
        return [record["id"] for record in _read_lines(self.predictions)] == list(ids)

    def appender(self, rank: int):
        """A function writing a batch of records to this process's shard durably."""
        path = self.shard(rank)
        path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(path)

        def append(batch: list[dict]) -> None:
            if not batch:
                return
            with open(path, "a", encoding="utf-8", newline="") as handle:
                handle.write("".join(dumps_line(record) for record in batch))
                handle.flush()
                os.fsync(handle.fileno())

        return append

    def merge(self, order: list[str]) -> list[dict]:
        """Write every record, in ``order`` of ids, to ``predictions.jsonl`` (atomically) and drop the shards.

        Raises ``RuntimeError`` when an id is missing (a rank did not finish)."""
        by_id: dict[str, dict] = {}
        for record in self.records():
            by_id.setdefault(record["id"], record)
        missing = [i for i in order if i not in by_id]
        if missing:
            raise RuntimeError(f"{self.directory}: {len(missing)} sample(s) not scored, e.g. {missing[0]}")
        rows = [by_id[i] for i in order]
        temporary = self.predictions.with_name(PREDICTIONS + ".tmp")
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            handle.write("".join(dumps_line(row) for row in rows))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.predictions)
        for shard in (self.directory / SHARDS).glob("rank-*.jsonl"):
            shard.unlink()
        if (self.directory / SHARDS).is_dir() and not any((self.directory / SHARDS).iterdir()):
            (self.directory / SHARDS).rmdir()
        return rows

    def log_session(self, entry: dict) -> None:
        with open(self.directory / RUN_LOG, "a", encoding="utf-8", newline="") as handle:
            handle.write(dumps_line(to_jsonable(entry)))


__all__ = ["CONFIG", "METRICS", "PREDICTIONS", "RUN_LOG", "RunStore"]
