"""Optional LLM judge for the reasoning task (off unless a run config sets ``judge.model``).

For every reasoning answer it asks an OpenAI-compatible chat endpoint whether the answer's reasoning supports
the gold emotion, and writes ``judge.jsonl`` (``id``, ``verdict`` = consistent | inconsistent | null,
``raw``) beside the run's predictions. The leaderboard reports the share judged consistent; the accuracy of
the reasoning task never depends on the judge (it comes from the parsed label).

The plumbing is the dataset builder's OpenAI backend's: the same SQLite response cache (a rerun sends no
request twice), request keys, endpoint naming, ``Retry-After`` handling and retried statuses, and the same
key handling: the key is read from the environment variable named by ``api_key_env`` only when a request
must be sent, handed to the client and nothing else, and scrubbed from anything stored.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

from schemas.errors import UsageError

JUDGE_PROMPT_VERSION = "judge-v1"
SYSTEM = ("You grade answers about images. You do not see the image. Judge only whether the answer's "
          "reasoning supports the reference emotion.")
USER = """Question asked about an image:
{question}

Reference emotion: {gold}

Answer to grade:
{answer}

Does the answer commit to the reference emotion and give reasons consistent with it? Reply with a JSON object
{{"verdict": "consistent"}} or {{"verdict": "inconsistent"}} and nothing else."""
_VERDICT = re.compile(r"\b(inconsistent|consistent)\b")


def read_verdict(content: str | None) -> str | None:
    """``consistent``/``inconsistent`` from the judge's reply (a JSON object, else exactly one of the words)."""
    if not content:
        return None
    try:
        verdict = json.loads(content).get("verdict")
        if verdict in ("consistent", "inconsistent"):
            return verdict
    except (ValueError, AttributeError):
        pass
    found = set(_VERDICT.findall(content.lower()))
    return found.pop() if len(found) == 1 else None


def _scrub(text: str | None, secret: str | None) -> str | None:
    if text is None or not secret or secret not in text:
        return text
    return text.replace(secret, "[redacted]")


def judge_reasoning(rows: list[dict], questions: dict[str, str], settings: dict, cache_path: str | Path,
                    out: str | Path, *, progress: bool = True) -> list[dict]:
    """Judge every generated answer of ``rows`` (reasoning predictions); writes and returns ``judge.jsonl`` rows.

    ``settings``: ``model`` (required), ``base_url``, ``api_key_env`` (default ``OPENAI_API_KEY``),
    ``max_retries``, ``timeout_s``, ``temperature`` (default 0), ``backoff_base_s`` (first retry wait).
    """
    from tqdm.auto import tqdm

    from builder.generation.cache import ResponseCache, StoredResponse, endpoint_id, response_key
    from builder.generation.config import GenerationConfig
    from builder.generation.openai_backend import RETRYABLE_STATUS, retry_after_seconds
    from schemas.jsonlines import write_lines

    model = settings.get("model")
    if not model:
        raise UsageError("judge.model is required to run the LLM judge")
    try:
        config = GenerationConfig(base_url=settings.get("base_url"),
                                  api_key_env=settings.get("api_key_env", "OPENAI_API_KEY"),
                                  max_retries=int(settings.get("max_retries", 5)),
                                  timeout_s=float(settings.get("timeout_s", 60.0)),
                                  temperature=float(settings.get("temperature", 0.0)),
                                  backoff_base_s=float(settings.get("backoff_base_s", 1.0)))
    except ValueError as exc:
        raise UsageError(f"judge: {exc}") from None
    params = {"temperature": config.temperature}
    client, secret = None, None
    results = []
    with ResponseCache(cache_path) as cache:
        for row in tqdm(rows, desc=f"judge ({model})", unit="answer", disable=not progress):
            if row["raw"] is None:
                results.append({"id": row["id"], "verdict": None, "raw": None})
                continue
            messages = [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": USER.format(question=questions.get(row["id"], ""),
                                                                gold=row["gold"], answer=row["raw"])}]
            key = response_key(backend="judge", model=model, base_url=config.base_url,
                               prompt_version=JUDGE_PROMPT_VERSION, messages=messages, params=params)
            stored = cache.get(key)
            if stored is None:
                if client is None:
                    from openai import OpenAI

                    secret = os.environ.get(config.api_key_env)
                    if not secret:
                        raise UsageError(f"judge: environment variable {config.api_key_env} is not set; it must "
                                         f"hold the API key for {endpoint_id(config.base_url)}")
                    client = OpenAI(api_key=secret, base_url=config.base_url, max_retries=0,
                                    timeout=config.timeout_s)
                content = _request(client, model, messages, config, RETRYABLE_STATUS, retry_after_seconds)
                stored = StoredResponse(content=_scrub(content, secret))
                if content is not None:
                    cache.put(key, row["id"], model, stored)
            results.append({"id": row["id"], "verdict": read_verdict(stored.content), "raw": stored.content})
    if client is not None:
        client.close()
    write_lines(out, results)
    return results


def _request(client, model: str, messages: list[dict], config, retryable, retry_after) -> str | None:
    """One chat completion with the backend's retry policy; ``None`` when every attempt failed."""
    import openai

    for attempt in range(config.max_retries + 1):
        wait = None
        try:
            reply = client.chat.completions.create(model=model, messages=messages, temperature=config.temperature)
            return reply.choices[0].message.content or ""
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise UsageError(f"judge: the endpoint rejected the credentials from {config.api_key_env} "
                                 f"(HTTP {exc.status_code})") from None
            if exc.status_code not in retryable and exc.status_code < 500:
                return None
            wait = retry_after(exc.response.headers)
        except (openai.APITimeoutError, openai.APIConnectionError):
            pass
        if attempt < config.max_retries:
            step = min(config.backoff_max_s, config.backoff_base_s * 2 ** attempt)
            time.sleep(min(config.backoff_max_s, wait) if wait is not None else step / 2 + random.uniform(0, step / 2))
    return None


__all__ = ["JUDGE_PROMPT_VERSION", "judge_reasoning", "read_verdict"]
