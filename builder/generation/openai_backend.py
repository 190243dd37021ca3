"""OpenAI-compatible backend (``openai:<model>``): asynchronous chat-completion requests with retries and a
persistent response cache.

* Up to ``max_in_flight`` requests are in flight at once (a fixed pool of workers sharing one queue).
* 429, 408, 409, 5xx, timeouts and connection errors are retried up to ``max_retries`` times with
  exponential backoff and jitter; a ``Retry-After`` (or ``retry-after-ms``) header sets the wait instead.
  The client's own retries are off (``max_retries=0``) so every attempt is counted here.
* An endpoint that gives no HTTP answer at all ``max_connection_failures`` times in a row is down: the
  run stops with :class:`EndpointUnreachable` (what was answered stays in the cache). A 429 storm is an
  answer, not an outage: it keeps being retried as the server asks.
* Every answered request is committed to the SQLite cache as it arrives; a rerun answers those items from
  the cache and sends requests only for the rest.
* Responses are asked for as JSON (``response_format`` json_schema) unless disabled; a server that rejects
  it gets plain requests for the rest of the run, and ``Question:``/``Answer:`` text is parsed instead.
* Refusals, empty or unparseable responses and answers that fail the checks are quarantined with the raw
  text, never turned into samples.

The API key is read from the environment variable named by ``config.api_key_env`` when requests are about
to be sent. It is handed to the client and nothing else: not to the generator's attributes, the cache,
log lines, exceptions or quarantine entries.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from builder.generation.base import (
    GenerationItem,
    GenerationOutcome,
    GenerationUsage,
    GeneratorInfo,
    InstructionRecord,
)
from builder.generation.cache import ResponseCache, StoredResponse, endpoint_id, response_key
from builder.generation.categorical import categorical_record
from builder.generation.checks import check_pairs, is_refusal
from builder.generation.config import GenerationConfig
from builder.generation.parse import ParseError, parse_qa
from builder.generation.prompts import LLM_KINDS, QA_RESPONSE_FORMAT, PromptSet, load_prompt, render_messages
from builder.generation.samples import content_hash, generation_quarantine, qa_records, sample_id
from builder.sources.context import render_context
from builder.sources.records import QuarantineEntry
from schemas.errors import UsageError

log = logging.getLogger(__name__)

BACKEND = "openai"
#: HTTP statuses worth retrying besides every 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Longest raw text kept in a quarantine entry.
RAW_LIMIT = 4000


class GenerationError(UsageError):
    """A problem that stops the whole run (missing key, rejected credentials, unknown model)."""


class EndpointUnreachable(GenerationError):
    """The endpoint answered nothing, many times in a row: it is down or the URL is wrong."""


def retry_after_seconds(headers) -> float | None:
    """The wait a server asks for in ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


@dataclass
class _Job:
    index: int
    item: GenerationItem
    prompt: PromptSet
    messages: list[dict]
    key: str

    @property
    def item_id(self) -> str:
        return sample_id(self.item.record.id, self.item.kind)


class _Run:
    """Mutable state of one ``generate`` call (kept off the generator so the generator stays pure)."""

    def __init__(self, items: int, progress: bool, model: str):
        from tqdm.auto import tqdm

        self.usage = GenerationUsage()
        self.structured = True
        self.in_flight = 0
        self.done = 0
        self.unanswered = 0  # consecutive attempts without any HTTP answer
        self.answered = 0  # fresh 200 responses
        self.bar = tqdm(total=items, desc=f"generate ({model})", unit="item", disable=not progress)

    def refresh(self) -> None:
        if self.bar.disable:
            return
        self.bar.set_postfix(done=self.done, in_flight=self.in_flight, failed=self.usage.failed,
                             cached=self.usage.cached, refresh=False)

    def finish_item(self, failed: bool) -> None:
        self.done += 1
        if failed:
            self.usage.failed += 1
        self.refresh()
        self.bar.update(1)


class OpenAIGenerator:
    """Generator backed by any OpenAI-compatible chat-completions endpoint (backend ``openai``).

    Holds only the model name and the config, so it pickles and can be shared between processes.
    """

    def __init__(self, model: str, config: GenerationConfig | None = None):
        from builder.generation.pricing import resolve_prices

        if not model or not model.strip():
            raise ValueError("openai backend needs a model name, e.g. 'openai:gpt-4o-mini'")
        self.model = model
        self.config = config or GenerationConfig()
        self.prices = resolve_prices(model, self.config.price_per_million_input,
                                     self.config.price_per_million_output)

    def __repr__(self) -> str:
        return f"OpenAIGenerator(model={self.model!r}, endpoint={endpoint_id(self.config.base_url)!r})"

    @property
    def info(self) -> GeneratorInfo:
        version = content_hash(*(load_prompt(kind).version for kind in LLM_KINDS))
        return self._info(version)

    def _info(self, prompt_version: str) -> GeneratorInfo:
        return GeneratorInfo(backend=BACKEND, model=self.model, prompt_version=prompt_version,
                             temperature=self.config.temperature, seed=self.config.seed)

    def _params(self) -> dict:
        """Sampling parameters that shape the response (part of the cache key)."""
        return {"temperature": self.config.temperature, "seed": self.config.seed,
                "max_tokens": self.config.max_tokens, "structured": self.config.use_structured_output}

    def check_ready(self) -> None:
        """The API key must be in its environment variable before a run starts."""
        if not os.environ.get(self.config.api_key_env):
            raise GenerationError(f"environment variable {self.config.api_key_env} is not set; it must hold the API "
                                  f"key for {endpoint_id(self.config.base_url)}")

    def _prepared(self, item: GenerationItem) -> tuple[PromptSet, list[dict], str]:
        """The prompt set, chat messages and cache key of an item of an LLM kind."""
        prompt = load_prompt(item.kind)
        messages = render_messages(prompt, render_context(item.record, item.caption))
        key = response_key(backend=BACKEND, model=self.model, base_url=self.config.base_url,
                           prompt_version=prompt.version, messages=messages, params=self._params())
        return prompt, messages, key

    def plan(self, items: Sequence[GenerationItem]) -> list[tuple[GenerationItem, list[dict], bool]]:
        """``(item, messages, answered_from_cache)`` for every item of an LLM kind; sends nothing (dry runs)."""
        path = self.config.cache_path
        cache = ResponseCache(path) if path is not None and path.is_file() else None
        try:
            planned = []
            for item in items:
                if item.kind in LLM_KINDS:
                    _, messages, key = self._prepared(item)
                    planned.append((item, messages, cache is not None and cache.get(key) is not None))
            return planned
        finally:
            if cache is not None:
                cache.close()

    # ------------------------------------------------------------------ entry points
    def generate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        """Generate every item; blocks until done (runs its own event loop, in a thread if one is running)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(items, progress=progress))
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.agenerate(items, progress=progress)).result()

    async def agenerate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        """Asynchronous :meth:`generate`."""
        results: list[list[InstructionRecord] | QuarantineEntry | None] = [None] * len(items)
        run = _Run(len(items), progress, self.model)
        run.structured = self.config.use_structured_output
        cache = ResponseCache(self.config.cache_path) if self.config.cache_path else None
        try:
            await self._send_all(self._jobs(items, run, cache, results), run, cache, results)
        finally:
            run.bar.close()
            if cache is not None:
                cache.close()
        outcome = GenerationOutcome(usage=run.usage)
        for result in results:
            if isinstance(result, QuarantineEntry):
                outcome.quarantined.append(result)
            elif result is not None:
                outcome.records.extend(result)
        return outcome

    def _jobs(self, items: Sequence[GenerationItem], run: _Run, cache: ResponseCache | None,
              results: list) -> Iterator[_Job]:
        """Settle the items that need no request (categorical, unknown kind, cached answer); yield the others.

        Consumed lazily by the workers, so the first requests go out before the whole list is prepared.
        """
        for index, item in enumerate(items):
            if item.kind == "categorical":
                results[index] = [categorical_record(item.record, item.caption)]
                run.finish_item(False)
                continue
            run.usage.generations += 1
            if item.kind not in LLM_KINDS:
                results[index] = generation_quarantine(item, "unknown_kind", f"unknown kind {item.kind!r}")
                run.finish_item(True)
                continue
            prompt, messages, key = self._prepared(item)
            stored = cache.get(key) if cache is not None else None
            if stored is None:
                yield _Job(index, item, prompt, messages, key)
                continue
            run.usage.cached += 1
            results[index] = self._interpret(item, prompt, stored)
            run.finish_item(isinstance(results[index], QuarantineEntry))

    # ------------------------------------------------------------------ requests
    async def _send_all(self, jobs: Iterator[_Job], run: _Run, cache: ResponseCache | None, results: list) -> None:
        first = next(jobs, None)
        if first is None:
            return  # everything answered from the cache: no key needed
        from openai import AsyncOpenAI

        self.check_ready()
        api_key = os.environ[self.config.api_key_env]
        client = AsyncOpenAI(api_key=api_key, base_url=self.config.base_url, max_retries=0,
                             timeout=self.config.timeout_s)
        queue = itertools.chain([first], jobs)

        async def worker() -> None:
            for job in queue:
                result = await self._request(client, job, run, api_key)
                if isinstance(result, StoredResponse):
                    self._count(run.usage, result)
                    if cache is not None:
                        cache.put(job.key, job.item_id, self.model, result)
                    result = self._interpret(job.item, job.prompt, result)
                results[job.index] = result
                run.finish_item(isinstance(result, QuarantineEntry))

        workers = [asyncio.create_task(worker()) for _ in range(min(self.config.max_in_flight, len(results)))]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            await client.close()

    def _count(self, usage: GenerationUsage, stored: StoredResponse) -> None:
        """Add a fresh response's tokens and their estimated cost (cached responses cost nothing again)."""
        usage.prompt_tokens += stored.prompt_tokens
        usage.completion_tokens += stored.completion_tokens
        usage.cost_usd += self.prices.cost(stored.prompt_tokens, stored.completion_tokens)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = self.config.backoff_max_s
        if retry_after is not None:
            return min(cap, retry_after * random.uniform(1.0, 1.1))
        step = min(cap, self.config.backoff_base_s * 2 ** (attempt - 1))
        return step / 2 + random.uniform(0.0, step / 2)

    async def _request(self, client, job: _Job, run: _Run, api_key: str) -> StoredResponse | QuarantineEntry:
        import openai

        attempt = 0
        structured = run.structured
        trying_plain = False
        while True:
            body: dict = {"model": self.model, "messages": job.messages, "temperature": self.config.temperature,
                          "seed": self.config.seed}
            if self.config.max_tokens is not None:
                body["max_tokens"] = self.config.max_tokens
            if structured:
                body["response_format"] = QA_RESPONSE_FORMAT
            run.usage.requests += 1
            run.in_flight += 1
            run.refresh()
            retry_after = None
            try:
                # The client's low-level post: same auth, timeout and error mapping as
                # chat.completions.create, without its per-request parameter transform (several ms of CPU
                # per request, which caps throughput at high concurrency); the body comes back as text.
                text = await client.post("/chat/completions", cast_to=str, body=body)
            except openai.APIStatusError as exc:
                run.unanswered = 0
                status = exc.status_code
                if status in (401, 403):
                    raise GenerationError(f"{endpoint_id(self.config.base_url)} rejected the credentials from "
                                          f"{self.config.api_key_env} (HTTP {status})") from None
                if status == 404:
                    raise GenerationError(f"{endpoint_id(self.config.base_url)} answered 404: unknown model "
                                          f"{self.model!r} or wrong base_url") from None
                if structured and status in (400, 422):
                    # Perhaps no structured output here: try this request once without it.
                    structured, trying_plain = False, True
                    log.info("%s: HTTP %d with response_format; retrying without structured output",
                             job.item_id, status)
                    continue
                if status not in RETRYABLE_STATUS and status < 500:
                    message = _scrub(getattr(exc, "message", "") or "", api_key)
                    return generation_quarantine(job.item, "http_error", f"HTTP {status}: {message[:300]}")
                failure = f"HTTP {status}"
                retry_after = retry_after_seconds(exc.response.headers)
            except openai.APITimeoutError:
                failure = f"no response within {self.config.timeout_s:g} s"
            except openai.APIConnectionError:
                failure = "connection error"
                run.unanswered += 1
                if run.unanswered >= self.config.max_connection_failures:
                    raise EndpointUnreachable(
                        f"cannot reach {self.config.base_url or 'https://api.openai.com/v1'}: "
                        f"{run.unanswered} connection attempts in a row got no answer; the {run.answered} "
                        "response(s) received before stay in the response cache") from None
            else:
                run.unanswered = 0
                run.answered += 1
                if trying_plain and run.structured:
                    run.structured = False
                    log.warning("%s does not accept response_format; continuing with plain-text responses",
                                endpoint_id(self.config.base_url))
                return self._read(job, text, api_key)
            finally:
                run.in_flight -= 1
            if attempt >= self.config.max_retries:
                return generation_quarantine(job.item, "request_failed",
                                             f"gave up after {attempt + 1} attempt(s); last error: {failure}")
            attempt += 1
            run.usage.retries += 1
            delay = self._delay(attempt, retry_after)
            log.warning("%s: %s; retry %d/%d in %.2f s", job.item_id, failure, attempt, self.config.max_retries, delay)
            await asyncio.sleep(delay)

    def _read(self, job: _Job, text: str, api_key: str) -> StoredResponse | QuarantineEntry:
        """The stored form of an HTTP 200 body, or a quarantine entry when it is not a chat completion."""
        try:
            completion = json.loads(text)
            choice = completion["choices"][0]
            message = choice["message"]
            content, refusal = message.get("content"), message.get("refusal")
            if not isinstance(content, (str, type(None))) or not isinstance(refusal, (str, type(None))):
                raise TypeError("message content is not text")
            usage = completion.get("usage") or {}
            stored = StoredResponse(
                content=_scrub(content, api_key), refusal=_scrub(refusal, api_key),
                finish_reason=choice.get("finish_reason"),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            return generation_quarantine(job.item, "malformed_response",
                                         f"the server's reply is not a chat completion ({type(exc).__name__})",
                                         raw=_scrub(text, api_key)[:RAW_LIMIT])
        return stored

    # ------------------------------------------------------------------ responses
    def _interpret(self, item: GenerationItem, prompt: PromptSet,
                   stored: StoredResponse) -> list[InstructionRecord] | QuarantineEntry:
        """Records from a response, or the reason it cannot be used."""
        if stored.refusal:
            return generation_quarantine(item, "refusal", "the model refused (refusal field set)", raw=stored.refusal)
        content = stored.content or ""
        if not content.strip():
            return generation_quarantine(item, "empty_response", "the model returned an empty message", raw=content)
        if is_refusal(content):
            return generation_quarantine(item, "refusal", "the response is a refusal", raw=content[:RAW_LIMIT])
        try:
            pairs = parse_qa(content)
        except ParseError as exc:
            code = "truncated" if stored.finish_reason == "length" else "unparseable"
            return generation_quarantine(item, code, f"unparseable response: {exc}", raw=content[:RAW_LIMIT])
        problem = check_pairs(pairs)
        if problem:
            return generation_quarantine(item, problem[0], problem[1], raw=content[:RAW_LIMIT])
        return qa_records(item, pairs, self._info(prompt.version), split_turns=self.config.split_turns)


def _scrub(text: str | None, secret: str) -> str | None:
    """``text`` with any occurrence of ``secret`` replaced (a server echoing the key must not store it)."""
    if text is None or not secret or secret not in text:
        return text
    return text.replace(secret, "[redacted]")
