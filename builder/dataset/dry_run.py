"""``emovit build --dry-run``: the bill before the run.

Reads the source, applies curation and sampling exactly as a build would (the same plan and shard code),
captions the selected images, renders every prompt the generator would send and counts, per split and kind,
the generations, those already answered in the response cache and the requests left to send, with
estimated prompt and completion tokens and the estimated cost. Nothing is sent and no build is written.

Token estimates:

* prompt tokens: the rendered chat messages, counted with ``--token-estimate`` (``chars``: characters / 4,
  OpenAI's rule of thumb for English, offline; ``tiktoken``: exact for OpenAI models, but tiktoken downloads
  its encodings on first use), plus the chat format's per-message framing;
* completion tokens: the mean length of the assistant answers in the prompt's own in-context examples
  (our best offline guess of what the model writes back), capped by ``max_tokens`` when one is set.

Captions come from the build's captioner; a BLIP-2 captioner is not run: cached captions are used and a
placeholder stands in for the others (counted in ``placeholder_captions``).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from builder.dataset.config import BuildConfig, generator_prices
from schemas.errors import UsageError

#: Stands in for a BLIP-2 caption that has not been computed yet (about the length of a real one).
PLACEHOLDER_CAPTION = "a photograph of a person standing outdoors near a building on a sunny day"


def _completion_estimates(count) -> dict[str, int]:
    from builder.generation.prompts import LLM_KINDS, load_prompt, pairs_json

    estimates = {}
    for kind in LLM_KINDS:
        examples = load_prompt(kind).examples
        estimates[kind] = round(sum(count(pairs_json(e.pairs)) for e in examples) / max(len(examples), 1))
    return estimates


def dry_run(config: BuildConfig, *, cache_dir: str | Path | None = None, token_estimate: str = "chars") -> dict:
    """The estimate for building ``config``: per split and kind, generations, cached, requests and tokens."""
    from builder.dataset.plan import plan_splits
    from builder.dataset.requests import shard_items
    from builder.dataset.shard import ShardWorker
    from builder.generation.pricing import estimate_prompt_tokens, estimate_tokens, tiktoken_counter
    from builder.sources.emoset import EmoSetSource

    source = EmoSetSource(config.data_dir, verify_images=config.verify_images)
    splits = tuple(config.splits or source.splits)
    unknown = [split for split in splits if split not in source.splits]
    if unknown:
        raise UsageError(f"{config.data_dir}: no split(s) {', '.join(unknown)} (have {', '.join(source.splits)})")
    worker = ShardWorker(config, cache_dir=cache_dir)
    planning = getattr(worker.generator, "plan", None)
    model = config.generator.partition(":")[2].strip()
    count = tiktoken_counter(model) if token_estimate == "tiktoken" else estimate_tokens
    completion = _completion_estimates(count)
    max_tokens = config.generation.get("max_tokens")
    rows: dict[tuple[str, str], dict] = defaultdict(lambda: {"generations": 0, "cached": 0, "requests": 0,
                                                             "prompt_tokens": 0, "completion_tokens": 0})
    placeholders = 0

    def blip2_captions(records) -> dict[str, str]:  # BLIP-2 is not run: cached captions or a placeholder
        nonlocal placeholders
        cached = _cached_only(worker.captioner, records).captions if worker.captioner.cache_dir is not None else {}
        placeholders += sum(record.id not in cached for record in records)
        return {r.id: cached.get(r.id, PLACEHOLDER_CAPTION) for r in records}

    tallies = {}
    with tempfile.TemporaryDirectory(prefix="emovit-dry-run-") as plan_dir:
        plans = plan_splits(source, splits, plan_dir, shard_size=config.shard_images,
                            class_positions=config.sampling == "emovit")
        for split in splits:
            tally = defaultdict(int)
            for shard in plans[split].shards:
                selection, items = shard_items(worker, shard, blip2_captions if config.captioner.startswith(
                    "blip2:") else None)
                for key, value in vars(selection.tally).items():
                    if isinstance(value, int):
                        tally[key] += value
                for item, messages, cached in (planning(items) if planning else []):
                    row = rows[(split, item.kind)]
                    row["generations"] += 1
                    if cached:
                        row["cached"] += 1
                        continue
                    row["requests"] += 1
                    row["prompt_tokens"] += estimate_prompt_tokens(messages, count)
                    expected = completion[item.kind]
                    row["completion_tokens"] += min(expected, max_tokens) if max_tokens else expected
                if not planning:  # offline generators: generations, but no request
                    for item in items:
                        rows[(split, item.kind)]["generations"] += 1
            tallies[split] = dict(tally)
    prices = generator_prices(config)
    table = [{"split": split, "kind": kind, **values} for (split, kind), values in sorted(rows.items())]
    prompt = sum(r["prompt_tokens"] for r in table)
    completion_total = sum(r["completion_tokens"] for r in table)
    costs = _costs(config, prompt, completion_total)
    return {
        "generator": config.generator, "token_estimate": token_estimate, "rows": table, "splits": tallies,
        "requests": sum(r["requests"] for r in table), "cached": sum(r["cached"] for r in table),
        "prompt_tokens": prompt, "completion_tokens": completion_total, "prices": prices,
        "cost_usd": costs.get(config.generator.partition(":")[0], 0.0), "costs": costs,
        "placeholder_captions": placeholders,
    }


def _costs(config: BuildConfig, prompt_tokens: int, completion_tokens: int) -> dict[str, float]:
    """The estimated cost through each OpenAI route: ``openai`` (synchronous, list prices) and ``openai-batch``
    (Batch API), for an OpenAI generator. Prices given on the command line are those of the build's own route;
    the other route is priced only for a model of the price table."""
    from builder.generation.pricing import known_prices, resolve_prices

    name, _, model = config.generator.partition(":")
    if name not in ("openai", "openai-batch"):
        return {}
    model = model.strip()
    given = (config.generation.get("price_per_million_input"), config.generation.get("price_per_million_output"))
    costs = {}
    for route in ("openai", "openai-batch"):
        if route != name and known_prices(model) is None:
            continue
        prices = resolve_prices(model, *(given if route == name else (None, None)), batch=route == "openai-batch")
        costs[route] = prices.cost(prompt_tokens, completion_tokens)
    return costs


def _cached_only(captioner, records):
    """Captions already in the cache, without computing any (BLIP-2 is not run by a dry run)."""
    from builder.captions.base import CaptionCache, CaptionOutcome

    outcome = CaptionOutcome()
    cache_file = Path(captioner.cache_dir) / "captions.sqlite"
    if not cache_file.is_file():
        return outcome
    cache = CaptionCache(captioner.cache_dir)
    try:
        keys = {record.id: captioner.content_key(record) for record in records}
        stored = cache.get_many(captioner.cache_key, [k for k in keys.values() if k is not None])
        outcome.captions = {i: stored[k] for i, k in keys.items() if k in stored}
    finally:
        cache.close()
    return outcome


def print_estimate(estimate: dict) -> None:
    """The estimate as a table and one summary line."""
    from tabulate import tabulate

    print(tabulate([[r["split"], r["kind"], r["generations"], r["cached"], r["requests"], r["prompt_tokens"],
                     r["completion_tokens"]] for r in estimate["rows"]],
                   headers=["split", "kind", "generations", "cached", "requests", "est. prompt tokens",
                            "est. completion tokens"]))
    costs = estimate.get("costs") or {}
    if len(costs) == 2:
        print(f"\nthe same requests cost ${costs['openai']:.4f} at list prices (openai:, synchronous) and "
              f"${costs['openai-batch']:.4f} at batch prices (openai-batch:, Batch API, answers within 24 h)")
    prices = estimate["prices"]
    price_text = (f"at ${prices['input']:g} / ${prices['output']:g} per 1M tokens ({prices['source']})"
                  if prices else "(offline generator: no cost)")
    print(f"\ndry run: {estimate['requests']} requests to send ({estimate['cached']} answered from the cache), "
          f"~{estimate['prompt_tokens']} prompt + ~{estimate['completion_tokens']} completion tokens "
          f"({estimate['token_estimate']} estimate), estimated cost ${estimate['cost_usd']:.4f} {price_text}; "
          "nothing was sent")
    if estimate["placeholder_captions"]:
        print(f"note: {estimate['placeholder_captions']} BLIP-2 captions are not cached yet; a placeholder caption "
              "stood in for them")
