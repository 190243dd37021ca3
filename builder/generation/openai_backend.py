"""OpenAI-compatible backend (``openai:<model>``): asynchronous chat-completion requests with retries and a
persistent response cache.

Sending is :mod:`builder.generation.chat_client`'s job (bounded concurrency, retries honouring
``Retry-After``, a dead endpoint stopping the run, a server without structured output falling back to plain
requests, each answer committed to the cache as it arrives); this module decides what to ask for each item and
what an answer means:

* Responses are asked for as JSON (``response_format`` json_schema) unless disabled; ``Question:``/``Answer:``
  text is parsed when the server gives plain text.
* Every answered request is in the SQLite cache; a rerun answers those items from the cache and sends requests
  only for the rest.
* Refusals, empty or unparseable responses and answers that fail the checks are quarantined with the raw
  text, never turned into samples; so are requests that got no usable answer.

The API key is read from the environment variable named by ``config.api_key_env`` when requests are about
to be sent. It is handed to the client and nothing else: not to the generator's attributes, the cache,
log lines, exceptions or quarantine entries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from builder.generation.base import (
    GenerationItem,
    GenerationOutcome,
    GenerationUsage,
    GeneratorInfo,
    InstructionRecord,
)
from builder.generation.cache import ResponseCache, StoredResponse, endpoint_id, response_key
from builder.generation.categorical import categorical_record
from builder.generation.chat_client import (
    RAW_LIMIT,
    RETRYABLE_STATUS,
    ChatClient,
    ChatRequest,
    ClientSettings,
    EndpointError,
    EndpointUnreachable,
    Failure,
    retry_after_seconds,
    run_blocking,
    scrub,
)
from builder.generation.checks import check_pairs, is_refusal
from builder.generation.config import GenerationConfig
from builder.generation.parse import ParseError, parse_qa
from builder.generation.prompts import LLM_KINDS, QA_RESPONSE_FORMAT, PromptSet, load_prompt, render_messages
from builder.generation.samples import content_hash, generation_quarantine, qa_records, sample_id
from builder.sources.context import render_context
from builder.sources.records import QuarantineEntry

log = logging.getLogger(__name__)

BACKEND = "openai"
#: A problem that stops the whole run (missing key, rejected credentials, unknown model, endpoint down).
GenerationError = EndpointError
_scrub = scrub


class _Run:
    """Mutable state of one ``generate`` call (kept off the generator so the generator stays pure)."""

    def __init__(self, items: int, progress: bool, model: str):
        from tqdm.auto import tqdm

        self.usage = GenerationUsage()
        self.done = 0
        self.client: ChatClient | None = None
        self.prompts: dict[int, tuple[GenerationItem, PromptSet]] = {}
        self.bar = tqdm(total=items, desc=f"generate ({model})", unit="item", disable=not progress)

    def refresh(self) -> None:
        if self.bar.disable:
            return
        in_flight = self.client.stats.in_flight if self.client is not None else 0
        self.bar.set_postfix(done=self.done, in_flight=in_flight, failed=self.usage.failed,
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
        ChatClient(self.model, ClientSettings.of(self.config)).check_ready()

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
        return run_blocking(lambda: self.agenerate(items, progress=progress))

    async def agenerate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        """Asynchronous :meth:`generate`."""
        results: list[list[InstructionRecord] | QuarantineEntry | None] = [None] * len(items)
        run = _Run(len(items), progress, self.model)
        run.client = ChatClient(self.model, ClientSettings.of(self.config), on_change=run.refresh)
        cache = ResponseCache(self.config.cache_path) if self.config.cache_path else None

        def handle(request: ChatRequest, outcome: StoredResponse | Failure) -> None:
            item, prompt = run.prompts.pop(request.index)
            if isinstance(outcome, Failure):
                result = generation_quarantine(item, outcome.code, outcome.reason, raw=outcome.raw)
            else:
                self._count(run.usage, outcome)
                result = self._interpret(item, prompt, outcome)
            results[request.index] = result
            run.finish_item(isinstance(result, QuarantineEntry))

        try:
            await run.client.run(self._requests(items, run, cache, results), handle, cache=cache)
        finally:
            run.usage.requests += run.client.stats.requests
            run.usage.retries += run.client.stats.retries
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

    def _requests(self, items: Sequence[GenerationItem], run: _Run, cache: ResponseCache | None,
                  results: list) -> Iterator[ChatRequest]:
        """Settle the items that need no request (categorical, unknown kind, cached answer); yield the others.

        Consumed lazily by the client's workers, so the first requests go out before the whole list is prepared.
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
                run.prompts[index] = (item, prompt)
                yield ChatRequest(key, sample_id(item.record.id, item.kind), self._body(messages), index)
                continue
            run.usage.cached += 1
            results[index] = self._interpret(item, prompt, stored)
            run.finish_item(isinstance(results[index], QuarantineEntry))

    def _body(self, messages: list[dict]) -> dict:
        """The request body (the client adds the model and drops ``response_format`` where it is rejected)."""
        body: dict = {"messages": messages, "temperature": self.config.temperature, "seed": self.config.seed}
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        if self.config.use_structured_output:
            body["response_format"] = QA_RESPONSE_FORMAT
        return body

    def _count(self, usage: GenerationUsage, stored: StoredResponse) -> None:
        """Add a fresh response's tokens and their estimated cost (cached responses cost nothing again)."""
        usage.prompt_tokens += stored.prompt_tokens
        usage.completion_tokens += stored.completion_tokens
        usage.cost_usd += self.prices.cost(stored.prompt_tokens, stored.completion_tokens)

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


__all__ = ["BACKEND", "RAW_LIMIT", "RETRYABLE_STATUS", "EndpointUnreachable", "GenerationError", "OpenAIGenerator",
           "retry_after_seconds"]
