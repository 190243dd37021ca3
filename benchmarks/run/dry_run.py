"""``emovit bench run --dry-run``: what the API models of a run would cost, before anything is sent.

For every ``openai`` model entry and task: the samples, how many are already answered in the response cache
(free), and for the rest the requests, prompt tokens (text by the chars/4 rule, each image by OpenAI's tiling
rule for the entry's ``detail``, :func:`emovit_model.scorers.api.image_tokens`), completion tokens (at most the
task's generation budget, or the rank-mode budget) and their price. Local models cost GPU time, not tokens: they
are listed with ``emovit bench plan``. Nothing is loaded but the data; no request is sent.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.spec.config import BenchConfig


def price_run(config: BenchConfig) -> list[dict]:
    """One row per API model and task: ``model``, ``task``, ``mode``, ``images``, ``cached``, ``requests``,
    ``prompt_tokens``, ``completion_tokens``, ``cost_usd``, ``prices``."""
    from benchmarks.adapters import ADAPTERS
    from benchmarks.data.samples import task_samples
    from benchmarks.run.prepare import prepare_data, processes
    from benchmarks.spec.config import generation_budget
    from benchmarks.spec.task import ordered_tasks

    procs = processes("cpu")
    out = Path(config.out)
    entries = [entry for entry in config.models if entry["adapter"] == "openai"]
    if not entries:
        return []
    data = prepare_data(config, out, procs)
    tasks = [task for task in ordered_tasks(config.tasks) if task.source != "derived"]
    samples = {task.name: task_samples(task, data)[0] for task in tasks}
    rows = []
    for entry in entries:
        adapter = ADAPTERS.load(entry["adapter"])
        classifier = adapter.load(adapter.prepare(entry, out), options=entry.get("options"), entry=entry, workdir=out)
        for task in tasks:
            mode = task.mode or entry.get("mode") or config.mode
            asked = classifier.with_options(labels=task.labels, answer_template=task.answer)
            batch = samples[task.name]
            instructions = [s.instruction if s.instruction is not None else asked.instruction for s in batch]
            budget = generation_budget(entry, task) if mode == "generate" else asked.scorer.rank_tokens
            estimate = asked.scorer.estimate([s.image for s in batch], instructions, budget, rank=mode == "rank")
            rows.append({"model": entry["name"], "task": task.name, "mode": mode, **estimate,
                         "prices": classifier.usage()["prices"]})
    return rows


def print_prices(rows: list[dict]) -> None:
    """The dry run's table and total."""
    from tabulate import tabulate

    if not rows:
        print("no API model (adapter: openai) in this config: nothing to price")
        return
    table = [[r["model"], r["task"], r["mode"], r["images"], r["cached"], r["requests"], f"{r['prompt_tokens']:,}",
              f"{r['completion_tokens']:,}", f"{r['cost_usd']:.4f}"] for r in rows]
    print(tabulate(table, headers=["model", "task", "mode", "images", "cached", "to send", "prompt tokens",
                                   "completion tokens", "USD"], tablefmt="simple"))
    sources = sorted({f"{r['model']}: ${r['prices']['input_per_million']:g} / ${r['prices']['output_per_million']:g} "
                      f"per million tokens ({r['prices']['source']})" for r in rows})
    print(f"total: {sum(r['requests'] for r in rows)} requests, about ${sum(r['cost_usd'] for r in rows):.4f} "
          "(completion tokens at their budget: an upper bound)")
    print("prices: " + "; ".join(sources))


__all__ = ["price_run", "print_prices"]
