"""Sending chat-completion requests to an OpenAI-compatible endpoint: concurrently, with retries, each answer
committed to the response cache as it arrives.

The machinery the instruction generator (:mod:`builder.generation.openai_backend`) and the benchmark's API
models (:mod:`emovit_model.scorers.api`) share; what a request asks and what its answer means stays with them.

* Up to ``max_in_flight`` requests are in flight at once (a fixed pool of workers sharing one queue, consumed
  lazily: the first requests go out before the whole list is prepared).
* 429, 408, 409, 5xx, timeouts and connection errors are retried up to ``max_retries`` times with exponential
  backoff and jitter; a ``Retry-After`` (or ``retry-after-ms``) header sets the wait instead. The client's own
  retries are off (``max_retries=0``) so every attempt is counted here.
* An endpoint that gives no HTTP answer at all ``max_connection_failures`` times in a row is down: the run stops
  with :class:`EndpointUnreachable` (what was answered stays in the cache). A 429 storm is an answer, not an
  outage: it keeps being retried as the server asks.
* A request with ``response_format`` that the server rejects (HTTP 400/422) is tried once without it; when that
  works, ``response_format`` is dropped for the rest of the run (:attr:`ClientStats.plain`).
* Every HTTP 200 chat completion is committed to the SQLite cache (:class:`~builder.generation.cache.
  ResponseCache`) before its handler sees it; callers look the cache up first, so a rerun sends only what was
  never answered.

The API key is read from the environment variable named by ``api_key_env`` when the first request is about to be
sent. It is handed to the client and nothing else: not to attributes, the cache, log lines, exceptions or
failure reasons (a server that echoes it gets it replaced by ``[redacted]``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from builder.generation.cache import ResponseCache, StoredResponse, endpoint_id
from schemas.errors import UsageError

log = logging.getLogger(__name__)

#: HTTP statuses worth retrying besides every 5xx.
RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Longest raw text kept with a failure.
RAW_LIMIT = 4000


class EndpointError(UsageError):
    """A problem that stops the whole run (missing key, rejected credentials, unknown model)."""


class EndpointUnreachable(EndpointError):
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


def scrub(text: str | None, secret: str | None) -> str | None:
    """``text`` with any occurrence of ``secret`` replaced (a server echoing the key must not store it)."""
    if text is None or not secret or secret not in text:
        return text
    return text.replace(secret, "[redacted]")


@dataclass(frozen=True)
class ClientSettings:
    """Where and how requests are sent (see :class:`~builder.generation.config.GenerationConfig` for each
    field's meaning; :meth:`of` copies them from any object carrying them)."""

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_in_flight: int = 8
    max_retries: int = 5
    timeout_s: float = 60.0
    max_connection_failures: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    @classmethod
    def of(cls, config) -> ClientSettings:
        return cls(**{name: getattr(config, name) for name in cls.__dataclass_fields__})

    @property
    def endpoint(self) -> str:
        return endpoint_id(self.base_url)


@dataclass(frozen=True)
class ChatRequest:
    """One request: its cache ``key``, the ``item`` it answers (logs, the cache's item column), the request
    ``body`` without ``model``, and the caller's ``index``."""

    key: str
    item: str
    body: dict
    index: int = 0


@dataclass(frozen=True)
class Failure:
    """A request that got no usable chat completion: ``http_error`` (a status not worth retrying),
    ``request_failed`` (retries used up) or ``malformed_response`` (an HTTP 200 that is not a completion)."""

    code: str
    reason: str
    raw: str | None = None


@dataclass
class ClientStats:
    """Counters of one :meth:`ChatClient.run` (``answered``: fresh HTTP 200 responses)."""

    requests: int = 0
    retries: int = 0
    in_flight: int = 0
    answered: int = 0
    unanswered: int = 0  # consecutive attempts without any HTTP answer
    plain: bool = False  # the server rejected response_format: dropped for the rest of the run


class ChatClient:
    """Sends :class:`ChatRequest` s for one ``model`` and hands each outcome to a handler.

    ``on_change`` is called whenever a counter moves (progress displays read :attr:`stats`).
    """

    def __init__(self, model: str, settings: ClientSettings, *, on_change: Callable[[], None] | None = None):
        self.model = model
        self.settings = settings
        self.stats = ClientStats()
        self._on_change = on_change or (lambda: None)

    def __repr__(self) -> str:
        return f"ChatClient(model={self.model!r}, endpoint={self.settings.endpoint!r})"

    def check_ready(self) -> None:
        """The API key must be in its environment variable before requests are sent."""
        if not os.environ.get(self.settings.api_key_env):
            raise EndpointError(f"environment variable {self.settings.api_key_env} is not set; it must hold the API "
                                f"key for {self.settings.endpoint}")

    async def run(self, requests: Iterable[ChatRequest],
                  handle: Callable[[ChatRequest, StoredResponse | Failure], None], *,
                  cache: ResponseCache | None = None) -> None:
        """Send every request (up to ``max_in_flight`` at once); each HTTP 200 completion is committed to
        ``cache`` under the request's key, then ``handle(request, outcome)`` is called. Nothing is sent, and no
        key is needed, when ``requests`` is empty."""
        queue = iter(requests)
        first = next(queue, None)
        if first is None:
            return
        from openai import AsyncOpenAI

        self.check_ready()
        secret = os.environ[self.settings.api_key_env]
        client = AsyncOpenAI(api_key=secret, base_url=self.settings.base_url, max_retries=0,
                             timeout=self.settings.timeout_s)
        queue = itertools.chain([first], queue)

        async def worker() -> None:
            for request in queue:
                outcome = await self._send(client, request, secret)
                if isinstance(outcome, StoredResponse) and cache is not None:
                    cache.put(request.key, request.item, self.model, outcome)
                handle(request, outcome)

        workers = [asyncio.create_task(worker()) for _ in range(self.settings.max_in_flight)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            await client.close()

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = self.settings.backoff_max_s
        if retry_after is not None:
            return min(cap, retry_after * random.uniform(1.0, 1.1))
        step = min(cap, self.settings.backoff_base_s * 2 ** (attempt - 1))
        return step / 2 + random.uniform(0.0, step / 2)

    async def _send(self, client, request: ChatRequest, secret: str) -> StoredResponse | Failure:
        import openai

        settings, stats = self.settings, self.stats
        attempt = 0
        drop_format = stats.plain
        trying_plain = False
        while True:
            body = {"model": self.model, **request.body}
            if drop_format:
                body.pop("response_format", None)
            stats.requests += 1
            stats.in_flight += 1
            self._on_change()
            retry_after = None
            try:
                # The client's low-level post: same auth, timeout and error mapping as
                # chat.completions.create, without its per-request parameter transform (several ms of CPU
                # per request, which caps throughput at high concurrency); the body comes back as text.
                text = await client.post("/chat/completions", cast_to=str, body=body)
            except openai.APIStatusError as exc:
                stats.unanswered = 0
                status = exc.status_code
                if status in (401, 403):
                    raise EndpointError(f"{settings.endpoint} rejected the credentials from "
                                        f"{settings.api_key_env} (HTTP {status})") from None
                if status == 404:
                    raise EndpointError(f"{settings.endpoint} answered 404: unknown model {self.model!r} or wrong "
                                        "base_url") from None
                if "response_format" in body and status in (400, 422):
                    # Perhaps no structured output here: try this request once without it.
                    drop_format, trying_plain = True, True
                    log.info("%s: HTTP %d with response_format; retrying without structured output",
                             request.item, status)
                    continue
                if status not in RETRYABLE_STATUS and status < 500:
                    message = scrub(getattr(exc, "message", "") or "", secret)
                    return Failure("http_error", f"HTTP {status}: {message[:300]}")
                failure = f"HTTP {status}"
                retry_after = retry_after_seconds(exc.response.headers)
            except openai.APITimeoutError:
                failure = f"no response within {settings.timeout_s:g} s"
            except openai.APIConnectionError:
                failure = "connection error"
                stats.unanswered += 1
                if stats.unanswered >= settings.max_connection_failures:
                    raise EndpointUnreachable(
                        f"cannot reach {settings.base_url or 'https://api.openai.com/v1'}: "
                        f"{stats.unanswered} connection attempts in a row got no answer; the {stats.answered} "
                        "response(s) received before stay in the response cache") from None
            else:
                stats.unanswered = 0
                stats.answered += 1
                if trying_plain and not stats.plain:
                    stats.plain = True
                    log.warning("%s does not accept response_format; continuing with plain-text responses",
                                settings.endpoint)
                return read_completion(text, secret)
            finally:
                stats.in_flight -= 1
            if attempt >= settings.max_retries:
                return Failure("request_failed", f"gave up after {attempt + 1} attempt(s); last error: {failure}")
            attempt += 1
            stats.retries += 1
            delay = self._delay(attempt, retry_after)
            log.warning("%s: %s; retry %d/%d in %.2f s", request.item, failure, attempt, settings.max_retries, delay)
            await asyncio.sleep(delay)


def read_completion(text: str, secret: str | None = None) -> StoredResponse | Failure:
    """The stored form of an HTTP 200 body (the first choice's message, token counts and, when the server sent
    them, the message's token ``logprobs`` as JSON), or a ``malformed_response`` failure."""
    try:
        completion = json.loads(text)
        choice = completion["choices"][0]
        message = choice["message"]
        content, refusal = message.get("content"), message.get("refusal")
        if not isinstance(content, (str, type(None))) or not isinstance(refusal, (str, type(None))):
            raise TypeError("message content is not text")
        usage = completion.get("usage") or {}
        tokens = (choice.get("logprobs") or {}).get("content")
        return StoredResponse(
            content=scrub(content, secret), refusal=scrub(refusal, secret), finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            logprobs=json.dumps(tokens, ensure_ascii=False) if isinstance(tokens, list) and tokens else None,
        )
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return Failure("malformed_response", f"the server's reply is not a chat completion ({type(exc).__name__})",
                       raw=scrub(text, secret)[:RAW_LIMIT])


def run_blocking(make_coroutine):
    """Run the coroutine ``make_coroutine()`` to completion from synchronous code (in a thread of its own when an
    event loop is already running in this one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


__all__ = ["RAW_LIMIT", "RETRYABLE_STATUS", "ChatClient", "ChatRequest", "ClientSettings", "ClientStats",
           "EndpointError", "EndpointUnreachable", "Failure", "read_completion", "retry_after_seconds",
           "run_blocking", "scrub"]
