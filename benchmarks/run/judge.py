"""Optional LLM judges for the reasoning task (off unless a run config names a judge).

For every reasoning answer each judge asks an OpenAI-compatible chat endpoint whether the answer's reasoning
supports the gold emotion. A run config names one judge (``judge: {model: gpt-4o-mini}``) or several
(``judge: [{name: strict, model: gpt-4o}, {name: cheap, model: gpt-4o-mini, base_url: ...}]``);
:func:`benchmarks.spec.config.judge_settings` turns either form into a list. Their verdicts go to ONE file,
``judge.jsonl`` beside the run's predictions: one line per judge and answer, ``{"id", "judge", "verdict", "raw"}``
(``verdict`` = consistent | inconsistent | null; ``error`` added when no answer came), the judges in config
order, each in prediction order. :mod:`benchmarks.score.judges` turns the file into each judge's consistent share
and, with two judges, Cohen's kappa between them. The accuracy of the reasoning task never depends on a judge (it
comes from the parsed label).

Requests go through the project's shared chat client (:mod:`builder.generation.chat_client`, the one the
dataset builder's OpenAI backend and the API models use): up to ``max_in_flight`` requests at once, retries with
backoff that honour ``Retry-After``, a dead endpoint stopping the run after ``max_connection_failures``
connection failures in a row (:class:`~builder.generation.chat_client.EndpointUnreachable`), and every answer
committed to the SQLite response cache as it arrives, so a rerun sends only what was never answered. The key
is read from the environment variable named by ``api_key_env`` only when a request must be sent, handed to the
client and nothing else, and scrubbed from anything stored.
"""

from __future__ import annotations

import json
import re
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


def _client_config(settings: dict):
    """The :class:`GenerationConfig` of one judge (its validation names the bad field)."""
    from benchmarks.spec.config import JUDGE_CLIENT_KEYS
    from builder.generation.config import GenerationConfig

    values = {key: settings[key] for key in JUDGE_CLIENT_KEYS if settings.get(key) is not None}
    values.setdefault("temperature", 0.0)
    try:
        return GenerationConfig(**values)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"judge {settings.get('name') or settings.get('model')}: {exc}") from None


def judge_reasoning(rows: list[dict], questions: dict[str, str], judges: list[dict] | dict,
                    cache_path: str | Path, out: str | Path, *, progress: bool = True) -> list[dict]:
    """Have every judge grade every generated answer of ``rows`` (reasoning predictions); writes and returns
    the ``judge.jsonl`` rows (see the module docs).

    ``judges``: the list :func:`benchmarks.spec.config.judge_settings` returns (a single mapping is one judge).
    Each holds ``model`` (required), ``name`` (default: the model; unique) and the client settings of
    :data:`benchmarks.spec.config.JUDGE_CLIENT_KEYS` (``temperature`` defaults to 0). A judge whose endpoint is
    down or rejects the key stops the run with a :class:`~schemas.errors.UsageError` naming the judge (answers
    received stay in the cache).
    """
    from benchmarks.spec.config import normalise_judges
    from builder.generation.chat_client import run_blocking
    from schemas.jsonlines import write_lines

    chosen = [(settings, _client_config(settings)) for settings in normalise_judges(judges)]
    names = [settings["name"] for settings, _ in chosen]
    if len(set(names)) < len(names):
        raise UsageError(f"judge names must be unique, got {', '.join(names)}")

    async def every_judge() -> list[dict]:
        from builder.generation.cache import ResponseCache

        results: list[dict] = []
        with ResponseCache(cache_path) as cache:  # opened in the thread that runs the event loop
            for settings, config in chosen:
                results.extend(await _one_judge(rows, questions, settings, config, cache, progress))
        return results

    results = run_blocking(every_judge)
    write_lines(out, results)
    return results


async def _one_judge(rows: list[dict], questions: dict[str, str], settings: dict, config, cache,
                     progress: bool) -> list[dict]:
    """The verdict rows of one judge: cached answers first, the rest sent concurrently by the chat client."""
    from tqdm.auto import tqdm

    from builder.generation.cache import StoredResponse, response_key
    from builder.generation.chat_client import ChatClient, ChatRequest, ClientSettings, EndpointError, Failure

    model, name = settings["model"], settings["name"]
    params = {"temperature": config.temperature}
    verdicts: list[dict] = [{"id": row["id"], "judge": name, "verdict": None, "raw": None} for row in rows]
    bar = tqdm(total=len(rows), desc=f"judge {name} ({model})", unit="answer", disable=not progress)
    client = ChatClient(model, ClientSettings.of(config))

    def settle(index: int, stored: StoredResponse) -> None:
        verdicts[index].update(verdict=read_verdict(stored.content), raw=stored.content)

    def requests():
        for index, row in enumerate(rows):
            if row.get("raw") is None:  # no answer to grade
                bar.update(1)
                continue
            messages = [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": USER.format(question=questions.get(row["id"], ""),
                                                                gold=row["gold"], answer=row["raw"])}]
            key = response_key(backend="judge", model=model, base_url=config.base_url,
                               prompt_version=JUDGE_PROMPT_VERSION, messages=messages, params=params)
            stored = cache.get(key)
            if stored is not None:
                settle(index, stored)
                bar.update(1)
                continue
            yield ChatRequest(key, str(row["id"]), {"messages": messages, "temperature": config.temperature}, index)

    def handle(request: ChatRequest, outcome) -> None:
        if isinstance(outcome, Failure):
            verdicts[request.index]["error"] = outcome.reason
        else:
            settle(request.index, outcome)
        bar.update(1)

    try:
        await client.run(requests(), handle, cache=cache)
    except EndpointError as exc:
        raise type(exc)(f"judge {name} ({model}): {exc}") from None
    finally:
        bar.close()
    return verdicts


__all__ = ["JUDGE_PROMPT_VERSION", "judge_reasoning", "read_verdict"]
