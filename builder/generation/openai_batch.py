"""Batch API backend (``openai-batch:<model>``): the prompts, parser, checks, response cache and report of
``openai:``, sent through OpenAI's Batch API (half the list price, answers within 24 hours).

A run (:meth:`OpenAIBatchGenerator.prepare`; the dataset builder calls it once with every request of the
build before its shards run, so a build makes a few large batches, not one per shard):

1. **Resume.** Input files a killed run of this machine left unsubmitted are dropped; for one that was
   uploaded, the server's batch list is searched first (a ``batches.create`` whose answer was lost).
2. **Write.** The items stream past: a request answered in the response cache is skipped, one in a batch
   still on the server is not sent again (its batch is waited for), the others become JSONL lines
   (``custom_id`` = the response-cache key, ``method``, ``url`` ``/v1/chat/completions``, ``body``) in files
   cut before 50,000 requests or 200 MB. Each finished file is uploaded (``files.create``, purpose ``batch``)
   and started (``batches.create``, window ``24h``); the batch id and its request keys are committed to
   ``<cache_dir>/batches.sqlite`` before anything waits on them.
3. **Wait.** ``batches.retrieve`` is polled with exponential backoff (``backoff_base_s`` doubling up to
   ``backoff_max_s``) under a progress bar. When a batch ends (completed, failed, expired, cancelled) its
   output and error files are streamed: each answer goes into the response cache under its ``custom_id``;
   an error line, a non-200 response, a missing line or a failed, expired or cancelled batch is one failed
   attempt for that request.
4. **Retry once.** Requests whose first attempt failed go into new batches of just those requests; after a
   second failure they count as failed generations (``--max-failure-rate`` applies).

:meth:`~OpenAIBatchGenerator.generate` runs the same steps for its items (in a build they are all settled by
then, so nothing is sent) and turns the cached answers into records exactly as ``openai:`` does. Tokens and
cost of an answer are counted once, by the first report that reads it after it arrived, at the Batch API's
price. A request that failed twice counts as a failure in that report; the next build tries it again.

Memory is flat in the number of requests: items stream into files, results stream from the downloaded files
into SQLite. The API key is read from ``config.api_key_env`` when the first API call is made and goes to the
client only: not into request files, the state database, logs or errors.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.generation.base import GenerationItem, GenerationOutcome, GeneratorInfo
from builder.generation.batch_state import (
    FAILED,
    MAX_ATTEMPTS,
    RETRY,
    SUBMITTED,
    WRITTEN,
    BatchState,
    RequestFiles,
    request_line,
)
from builder.generation.cache import ResponseCache, StoredResponse, endpoint_id
from builder.generation.categorical import categorical_record
from builder.generation.openai_backend import (
    RETRYABLE_STATUS,
    EndpointUnreachable,
    GenerationError,
    OpenAIGenerator,
)
from builder.generation.prompts import LLM_KINDS, QA_RESPONSE_FORMAT
from builder.generation.samples import generation_quarantine, sample_id
from builder.sources.records import QuarantineEntry
from schemas.jsonlines import BadLine, dumps_line, parse_lines

log = logging.getLogger(__name__)

BACKEND = "openai-batch"
ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
#: Batch statuses after which nothing changes any more.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
#: Folder of the cache directory holding input files until their requests are settled.
FILES_DIR = "batch-files"
STATE_FILE = "batches.sqlite"


@dataclass
class BatchRun:
    """What one :meth:`OpenAIBatchGenerator.prepare` call did."""

    requests_sent: int = 0
    retries_sent: int = 0
    batches: list[str] = field(default_factory=list)
    waited_for: int = 0
    answered: int = 0
    failed: int = 0


class OpenAIBatchGenerator(OpenAIGenerator):
    """Generator that sends its requests through the OpenAI Batch API (backend ``openai-batch``).

    Holds only the model name and the config (it pickles); all run state lives in the cache folder.
    ``prices`` are the Batch API's (half the list price of a known model), ``list_prices`` the synchronous
    API's.
    """

    def __init__(self, model: str, config=None):
        from builder.generation.pricing import resolve_prices

        super().__init__(model, config)
        self.list_prices = self.prices
        self.prices = resolve_prices(model, self.config.price_per_million_input,
                                     self.config.price_per_million_output, batch=True)

    def __repr__(self) -> str:
        return f"OpenAIBatchGenerator(model={self.model!r}, endpoint={endpoint_id(self.config.base_url)!r})"

    def _info(self, prompt_version: str) -> GeneratorInfo:
        return GeneratorInfo(backend=BACKEND, model=self.model, prompt_version=prompt_version,
                             temperature=self.config.temperature, seed=self.config.seed)

    def check_ready(self) -> None:
        """A cache folder (the batches are tracked there) and the API key are needed before a run starts."""
        if self.config.cache_path is None:
            raise GenerationError("openai-batch keeps track of its batches in the cache folder: set cache_dir")
        super().check_ready()

    def body(self, messages: list[dict]) -> dict:
        """The chat-completions request body of one item (as ``openai:`` sends it)."""
        body: dict = {"model": self.model, "messages": messages, "temperature": self.config.temperature,
                      "seed": self.config.seed}
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        if self.config.use_structured_output:
            body["response_format"] = QA_RESPONSE_FORMAT
        return body

    # ------------------------------------------------------------------ entry points
    def prepare(self, items: Iterable[GenerationItem], *, progress: bool = True) -> BatchRun:
        """Send every conversation/reasoning item without an answer through the Batch API and wait for the
        answers (they land in the response cache). ``items`` may be any iterable, read once."""
        if self.config.cache_path is None:
            raise GenerationError("openai-batch keeps track of its batches in the cache folder: set cache_dir")
        session = _Session(self, progress)
        try:
            return session.run(items)
        finally:
            session.close()

    def generate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        """:meth:`prepare` the items, then turn their answers into records (or quarantine entries)."""
        self.prepare(items, progress=progress)
        return self._answers(items)

    def _answers(self, items: Sequence[GenerationItem]) -> GenerationOutcome:
        outcome = GenerationOutcome()
        usage = outcome.usage
        state = BatchState(Path(self.config.cache_dir) / STATE_FILE)
        cache = ResponseCache(self.config.cache_path)
        try:
            for item in items:
                if item.kind == "categorical":
                    outcome.records.append(categorical_record(item.record, item.caption))
                    continue
                usage.generations += 1
                if item.kind not in LLM_KINDS:
                    result = generation_quarantine(item, "unknown_kind", f"unknown kind {item.kind!r}")
                else:
                    result = self._answer(item, state, cache, usage)
                if isinstance(result, QuarantineEntry):
                    usage.failed += 1
                    outcome.quarantined.append(result)
                else:
                    outcome.records.extend(result)
        finally:
            state.close()
            cache.close()
        return outcome

    def _answer(self, item: GenerationItem, state: BatchState, cache: ResponseCache, usage):
        prompt, _, key = self._prepared(item)
        stored = cache.get(key)
        claimed = state.claim(key)  # first report to see this answer or failure: it counts what it cost
        if claimed is not None:
            usage.requests += claimed.attempts
            usage.retries += max(claimed.attempts - 1, 0)
        if stored is not None:
            if claimed is not None:
                self._count(usage, stored)
            else:
                usage.cached += 1
            return self._interpret(item, prompt, stored)
        row = claimed or state.get(key)
        if row is not None and row.status == FAILED:
            reason = f"no answer after {row.attempts} batch attempt(s); last error: {row.error}"
        elif row is not None and row.status == SUBMITTED:
            reason = f"its batch {row.batch} has not finished"
        else:
            reason = "no answer and not submitted"
        return generation_quarantine(item, "request_failed", reason)


class _Session:
    """One :meth:`OpenAIBatchGenerator.prepare` call: the state, the response cache and (once needed) the
    client."""

    def __init__(self, generator: OpenAIBatchGenerator, progress: bool):
        config = generator.config
        self.generator, self.config, self.progress = generator, config, progress
        self.state = BatchState(Path(config.cache_dir) / STATE_FILE)
        self.cache = ResponseCache(config.cache_path)
        self.endpoint = endpoint_id(config.base_url)
        self.folder = Path(config.cache_dir) / FILES_DIR
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.prefix = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self.mine: set[str] = set()  # input files written by this run
        self.waiting: set[str] = set()  # batches this run waits for
        self.result = BatchRun()
        self._client = None
        self._api_key = ""

    @property
    def client(self):
        """The OpenAI client, made on first use (the key is read only then)."""
        if self._client is None:
            from openai import OpenAI

            self.generator.check_ready()
            self._api_key = os.environ[self.config.api_key_env]
            self._client = OpenAI(api_key=self._api_key, base_url=self.config.base_url,
                                  max_retries=self.config.max_retries, timeout=self.config.timeout_s)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.state.close()
        self.cache.close()

    # ------------------------------------------------------------------ the run
    def run(self, items: Iterable[GenerationItem]) -> BatchRun:
        self.recover()
        self.write(items)
        while self.waiting:  # ends: a request is submitted at most MAX_ATTEMPTS times before it counts as failed
            self.write_retries(self.wait())
        return self.result

    def recover(self) -> None:
        """Input files that a dead run on this machine wrote but never turned into a batch."""
        host = socket.gethostname()
        for row in self.state.files(self.endpoint, "writing", "uploaded"):
            owner_host, _, pid = (row.owner or "").rpartition(":")
            if owner_host != host or _alive(pid):
                continue  # another machine's or a live run's file
            batch = self._find_batch(row.file_id, row.created) if row.file_id else None
            if batch is None:
                self._drop(row.path)
            else:
                self.state.submitted(row.path, batch.id, batch.status)
                log.info("adopted batch %s made from %s", batch.id, Path(row.path).name)

    def write(self, items: Iterable[GenerationItem]) -> None:
        """Stream the items into request files, submitting each file as soon as it is full."""
        from tqdm.auto import tqdm

        writer = RequestFiles(self.folder, self.prefix)
        bar = tqdm(desc=f"batch requests ({self.generator.model})", unit="req", disable=not self.progress)
        try:
            for item in items:
                if item.kind not in LLM_KINDS:
                    continue
                _, messages, key = self.generator._prepared(item)
                if self.cache.get(key) is not None:
                    continue
                row = self.state.get(key)
                if row is not None:
                    if row.status == SUBMITTED:
                        self.waiting.add(row.batch)
                        continue
                    if (row.status == WRITTEN and row.file in self.mine) or (row.status == FAILED and not row.reported):
                        continue  # already in this run's files / failed in a build that has not reported it
                attempts = row.attempts if row is not None and row.status in (RETRY, WRITTEN) else 0
                line = request_line(key, self.generator.body(messages), ENDPOINT)
                self._add(writer, line, key, sample_id(item.record.id, item.kind), attempts)
                self.result.requests_sent += 1
                bar.update(1)
            self._finish(writer)
        finally:
            bar.close()
            writer.close()
        self.result.waited_for = len(self.waiting)

    def write_retries(self, finished: list[str]) -> None:
        """One new batch (or more, by the file limits) of the requests of ``finished`` that failed once."""
        files = self.state.retry_files(finished)
        if not files:
            return
        writer = RequestFiles(self.folder, self.prefix + "-retry")
        try:
            for path in files:
                if not Path(path).is_file():
                    continue  # removed by hand: the next run writes these requests again from their items
                with open(path, "rb") as handle:
                    for raw in handle:  # a binary file splits on b"\n" only, as JSON lines must
                        line = json_line(raw)
                        if not isinstance(line, dict):
                            continue
                        row = self.state.get(line["custom_id"])
                        if row is None or row.status != RETRY or row.file != path:
                            continue
                        if row.error_status in (400, 422) and "response_format" in line["body"]:
                            # perhaps no structured output on this endpoint: the retry asks for plain text
                            line["body"].pop("response_format")
                            raw = dumps_line(line).encode("utf-8")
                        self._add(writer, raw, row.key, row.item, row.attempts)
                        self.result.retries_sent += 1
            self._finish(writer)
        finally:
            writer.close()
        for path in files:
            Path(path).unlink(missing_ok=True)

    def _add(self, writer: RequestFiles, line: bytes, key: str, item: str, attempts: int) -> None:
        if not writer.fits(line):
            self._finish(writer)
            path = str(writer.open())
            self.mine.add(path)
            self.state.start_file(path, self.endpoint, self.owner)
        writer.add(line)
        self.state.write(key, item, self.endpoint, str(writer.path), attempts)

    def _finish(self, writer: RequestFiles) -> None:
        """Close the open file and submit it."""
        requests, size = writer.requests, writer.bytes
        path = writer.close()
        if path is None:
            return
        self.state.finish_file(str(path), requests, size)
        file_id = self._upload(path)
        self.state.uploaded(str(path), file_id)
        batch = self._create(file_id, path)
        self.state.submitted(str(path), batch.id, batch.status)
        self.waiting.add(batch.id)
        self.result.batches.append(batch.id)
        self._say(f"batch {batch.id}: {requests} requests from {path.name} submitted ({batch.status})")

    def _drop(self, path: str) -> None:
        self.state.discard_file(path)
        Path(path).unlink(missing_ok=True)

    # ------------------------------------------------------------------ API calls
    def _failure(self, exc, what: str) -> str:
        """A retryable error's description; anything else stops the run with a clear message."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                raise GenerationError(f"{self.endpoint} rejected the credentials from {self.config.api_key_env} "
                                      f"(HTTP {status})") from None
            if status not in RETRYABLE_STATUS and status < 500:
                message = _scrub(getattr(exc, "message", "") or "", self._api_key)
                raise GenerationError(f"{self.endpoint} refused {what}: HTTP {status}: {message[:300]}") from None
            return f"HTTP {status}"
        return "no answer" if isinstance(exc, openai.APITimeoutError) else "connection error"

    def _pause(self, attempt: int, what: str, problem: str) -> None:
        if attempt >= self.config.max_retries:
            raise EndpointUnreachable(f"{what} at {self.endpoint} failed {attempt + 1} time(s); last error: {problem}")
        delay = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** attempt)
        log.warning("%s: %s; retry %d/%d in %.1f s", what, problem, attempt + 1, self.config.max_retries, delay)
        time.sleep(delay)

    def _upload(self, path: Path) -> str:
        """Upload an input file (streamed from disk; re-opened for each attempt) and return its id."""
        import openai

        client = self.client.with_options(max_retries=0)
        attempt = 0
        while True:
            try:
                with open(path, "rb") as handle:
                    return client.files.create(file=(path.name, handle, "application/jsonl"), purpose="batch").id
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                problem = self._failure(exc, f"the upload of {path.name}")
            self._pause(attempt, f"upload of {path.name}", problem)
            attempt += 1

    def _create(self, file_id: str, path: Path):
        """Start the batch of an uploaded file. A failed call is retried only after checking that the server
        did not make the batch anyway, so a request is never in two batches."""
        import openai

        client = self.client.with_options(max_retries=0)
        since = time.time()
        attempt = 0
        while True:
            try:
                return client.batches.create(input_file_id=file_id, endpoint=ENDPOINT,
                                             completion_window=COMPLETION_WINDOW, metadata={"emovit_file": path.name})
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                problem = self._failure(exc, f"the batch of {path.name}")
            found = self._find_batch(file_id, since)
            if found is not None:
                return found
            self._pause(attempt, f"batch of {path.name}", problem)
            attempt += 1

    def _find_batch(self, file_id: str, since: float):
        """The server's batch made from ``file_id`` (newest first, back to an hour before ``since``), if any."""
        import openai

        try:
            for batch in self.client.batches.list(limit=100):
                if batch.input_file_id == file_id:
                    return batch
                if batch.created_at < since - 3600:
                    return None
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            self._failure(exc, "the batch list")
        return None

    # ------------------------------------------------------------------ waiting and results
    def wait(self) -> list[str]:
        """Poll the batches this run waits for until each has ended; collect each as it ends."""
        import openai
        from tqdm.auto import tqdm

        pending = sorted(self.waiting)
        sizes = {batch_id: getattr(self.state.batch_file(batch_id), "requests", 0) for batch_id in pending}
        progress: dict[str, int] = dict.fromkeys(pending, 0)
        statuses: dict[str, str] = {}
        finished: list[str] = []
        delay = self.config.backoff_base_s
        unanswered = 0
        bar = tqdm(total=sum(sizes.values()), desc=f"batches ({self.generator.model})", unit="req",
                   disable=not self.progress)
        try:
            while pending:
                for batch_id in list(pending):
                    try:
                        batch = self.client.batches.retrieve(batch_id)
                        unanswered = 0
                    except openai.NotFoundError:
                        self._collect_lost(batch_id)
                        pending.remove(batch_id)
                        finished.append(batch_id)
                        continue
                    except (openai.APIStatusError, openai.APIConnectionError) as exc:
                        problem = self._failure(exc, "the batch status")
                        unanswered += 1
                        if unanswered >= self.config.max_connection_failures:
                            raise EndpointUnreachable(
                                f"cannot poll {self.endpoint} ({problem}, {unanswered} times in a row); the "
                                f"batches keep running on the server: run the same command again to collect "
                                "them") from None
                        break
                    counts = batch.request_counts
                    if counts is not None:
                        progress[batch_id] = counts.completed + counts.failed
                    if statuses.get(batch_id) != batch.status:
                        statuses[batch_id] = batch.status
                        self.state.batch_status(batch_id, batch.status)
                        done = f" ({counts.completed} done, {counts.failed} failed of {counts.total})" if counts else ""
                        self._say(f"batch {batch_id}: {batch.status}{done}", bar)
                    if batch.status in TERMINAL:
                        self._collect(batch)
                        progress[batch_id] = sizes[batch_id]
                        pending.remove(batch_id)
                        finished.append(batch_id)
                bar.n = min(sum(progress.values()), bar.total or 0)
                bar.set_postfix(batches_left=len(pending), refresh=False)
                bar.refresh()
                if pending:
                    time.sleep(delay)
                    delay = min(max(delay * 2, 0.001), self.config.backoff_max_s)
        except KeyboardInterrupt:
            print(f"interrupted: {len(pending)} batch(es) keep running on the server; they are recorded in "
                  f"{self.state.path}; run the same command again to collect them (nothing is sent twice)",
                  file=sys.stderr)
            raise
        finally:
            bar.close()
        self.waiting.difference_update(finished)
        return finished

    def _collect(self, batch) -> None:
        """Read an ended batch's output and error files; every request without a usable answer failed once."""
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                self._read_results(file_id, batch.id)
        reasons = {"completed": "the batch completed without a result for this request",
                   "expired": "the batch expired before this request ran",
                   "cancelled": "the batch was cancelled before this request ran"}
        reason = reasons.get(batch.status)
        if reason is None:  # failed: the file was refused as a whole
            errors = [f"{e.code}: {e.message}" for e in ((batch.errors.data or []) if batch.errors else [])]
            reason = "the batch failed" + (f" ({'; '.join(errors)[:300]})" if errors else "")
        self.result.failed += self.state.fail_unanswered(batch.id, _scrub(reason, self._api_key))
        self.state.batch_done(batch.id, batch.status)
        self._tidy(batch.id)

    def _collect_lost(self, batch_id: str) -> None:
        self.result.failed += self.state.fail_unanswered(batch_id, "the server no longer knows the batch")
        self.state.batch_done(batch_id, "not_found")
        self._tidy(batch_id)

    def _tidy(self, batch_id: str) -> None:
        """Delete a batch's input file once none of its requests waits for a retry."""
        row = self.state.batch_file(batch_id)
        if row is not None and not self.state.count(RETRY, batch=batch_id):
            Path(row.path).unlink(missing_ok=True)

    def _read_results(self, file_id: str, batch_id: str) -> None:
        with self.client.files.with_streaming_response.content(file_id) as response:
            # split on b"\n" only: httpx's iter_lines would also cut at a U+2028 inside an answer
            for number, raw in enumerate(byte_lines(response.iter_bytes()), 1):
                line = json_line(raw)
                if isinstance(line, BadLine):
                    log.warning("result file %s, line %d: not JSON; skipped", file_id, number)
                elif isinstance(line, dict):
                    self._settle(line, batch_id)
        self.state.commit()

    def _settle(self, line: dict, batch_id: str) -> None:
        """One line of an output or error file: an answer into the cache, or one failed attempt."""
        key = line.get("custom_id")
        row = self.state.get(key) if isinstance(key, str) else None
        if row is None or row.batch != batch_id or row.status != SUBMITTED:
            return  # not ours, or settled before
        response = line.get("response") if isinstance(line.get("response"), dict) else {}
        error = line.get("error") if isinstance(line.get("error"), dict) else None
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and error is None:
            stored = _stored_response(body, self._api_key)
            if stored is not None:
                self.cache.put(key, row.item, self.generator.model, stored)
                self.state.answered(key)
                self.result.answered += 1
                return
            problem = "the response body is not a chat completion"
        elif error is not None:
            problem = f"{error.get('code')}: {error.get('message')}"
        else:
            detail = body.get("error") if isinstance(body, dict) else None
            message = detail.get("message") if isinstance(detail, dict) else None
            problem = f"HTTP {status}" + (f": {message}" if message else "")
        self.state.attempt_failed(key, _scrub(problem, self._api_key)[:300], status if isinstance(status, int) else None)
        self.result.failed += row.attempts >= MAX_ATTEMPTS

    def _say(self, text: str, bar=None) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            (bar.write if bar is not None else tqdm.write)(text)
        else:
            log.info(text)


def byte_lines(chunks) -> Iterator[bytes]:
    """The lines of a stream of byte chunks, split on ``b"\\n"`` only (the JSON-lines rule)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending


def json_line(raw: bytes):
    """One JSON line's value through the project's one JSON-lines reader (None for a blank line, a
    :class:`~schemas.jsonlines.BadLine` for one that is not JSON)."""
    text = raw.decode("utf-8", errors="replace")
    return next((value for _, value in parse_lines(text)), None)


def _stored_response(body, api_key: str) -> StoredResponse | None:
    """The stored form of a chat-completion body, or None when it is not one."""
    try:
        choice = body["choices"][0]
        message = choice["message"]
        content, refusal = message.get("content"), message.get("refusal")
        if not isinstance(content, (str, type(None))) or not isinstance(refusal, (str, type(None))):
            return None
        usage = body.get("usage") or {}
        return StoredResponse(content=_scrub(content, api_key), refusal=_scrub(refusal, api_key),
                              finish_reason=choice.get("finish_reason"),
                              prompt_tokens=int(usage.get("prompt_tokens") or 0),
                              completion_tokens=int(usage.get("completion_tokens") or 0))
    except (TypeError, KeyError, IndexError, AttributeError, ValueError):
        return None


def _scrub(text: str | None, secret: str) -> str | None:
    """``text`` with any occurrence of ``secret`` replaced."""
    if text is None or not secret or secret not in text:
        return text
    return text.replace(secret, "[redacted]")


def _alive(pid: str) -> bool:
    """Whether a process of this machine with id ``pid`` is running."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


__all__ = ["BACKEND", "BatchRun", "OpenAIBatchGenerator"]
