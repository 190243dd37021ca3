"""In-domain vs out-of-domain accuracy: the table emotion papers print to show what fine-tuning on EmoSet does
to the datasets a model never saw.

Per model: its accuracy on the in-domain task (the first of the in-domain tasks, in the order given, that the
model has; EmoSet's ``emoset8`` by default), on every other in-domain task and on each out-of-domain
(held-out) task it has; the mean over its out-of-domain tasks, **unweighted** (each dataset counts once) and
**weighted by n** (the pooled accuracy over all their samples); and the **drop** from the in-domain accuracy to
each mean. Every figure carries its n (samples; and the number of out-of-domain tasks) and a 95% interval by
the normal approximation with independent tasks:

* unweighted mean ``m = (1/T) sum_t p_t``: ``SE = sqrt(sum_t p_t (1 - p_t) / n_t) / T``;
* weighted mean ``w = sum_t n_t p_t / N``: ``SE = sqrt(sum_t n_t p_t (1 - p_t)) / N``;
* drop ``d = p_in - m`` (or ``- w``): ``SE = sqrt(p_in (1 - p_in) / n_in + SE_mean^2)``;

interval ``estimate -/+ z_0.975 SE`` (means clipped to [0, 1], drops to [-1, 1]). A task whose runs record
leaked images (``leakage.count > 0`` in their ``config.json``, from ``emovit bench leakage``) is listed in
``leaked`` with the largest count.

Which tasks are which: :data:`IN_DOMAIN` by default (``--in-domain``, :func:`check_in_domain`), and the
board's held-out tasks (:func:`held_out_tasks`) out of domain.
"""

from __future__ import annotations

import math
from functools import cache

from schemas.errors import UsageError

#: Tasks counted as in-domain by default (``--in-domain``): EmoSet's, the data EmoVIT is tuned on.
IN_DOMAIN = ("emoset8", "emoset2")


@cache
def _z() -> float:
    """``z_0.975`` (SciPy's normal quantile)."""
    from scipy.stats import norm

    return float(norm.ppf(0.975))


def _interval(estimate: float, se: float, low: float, high: float) -> list[float]:
    return [max(low, estimate - _z() * se), min(high, estimate + _z() * se)]


def _variance(row: dict) -> float:
    p = row["accuracy"]
    return p * (1 - p) / row["n"]


def domain_summary(rows: list[dict], in_domain: list[str], out_of_domain: list[str],
                   leaked: dict[str, int] | None = None) -> dict:
    """The in- vs out-of-domain section of ``leaderboard_tasks.json`` from leaderboard rows (``model``,
    ``task``, ``n``, ``accuracy``, ``accuracy_ci``); ``in_domain`` and ``out_of_domain`` name the tasks of each
    kind (tasks of the board that are in neither are left out). Models with no out-of-domain task get no
    means."""
    present = list(dict.fromkeys(row["task"] for row in rows))
    inside = [task for task in in_domain if task in present]
    outside = [task for task in out_of_domain if task in present and task not in inside]
    by_model: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], {})[row["task"]] = row
    models = {}
    for model, tasks in by_model.items():
        mine_in = [task for task in inside if task in tasks]
        mine_out = [task for task in outside if task in tasks]
        if not mine_in and not mine_out:
            continue

        def cell(task, tasks=tasks):
            row = tasks[task]
            return {"accuracy": row["accuracy"], "n": row["n"], "accuracy_ci": row["accuracy_ci"]}

        entry = {"in_domain_task": mine_in[0] if mine_in else None,
                 "in_domain": {task: cell(task) for task in mine_in},
                 "out_of_domain": {task: cell(task) for task in mine_out},
                 "ood_tasks": len(mine_out), "ood_tasks_total": len(outside),
                 "ood_n": sum(tasks[task]["n"] for task in mine_out)}
        for key in ("ood_mean", "ood_mean_ci", "ood_weighted_mean", "ood_weighted_mean_ci", "drop", "drop_ci",
                    "drop_weighted", "drop_weighted_ci"):
            entry[key] = None
        if mine_out:
            out_rows = [tasks[task] for task in mine_out]
            count, total = len(out_rows), entry["ood_n"]
            mean = sum(row["accuracy"] for row in out_rows) / count
            mean_se = math.sqrt(sum(map(_variance, out_rows))) / count
            weighted = sum(row["accuracy"] * row["n"] for row in out_rows) / total
            weighted_se = math.sqrt(sum(row["n"] * row["accuracy"] * (1 - row["accuracy"]) for row in out_rows)) / total
            entry.update(ood_mean=mean, ood_mean_ci=_interval(mean, mean_se, 0.0, 1.0), ood_weighted_mean=weighted,
                         ood_weighted_mean_ci=_interval(weighted, weighted_se, 0.0, 1.0))
            if mine_in:
                base = tasks[mine_in[0]]
                for key, value, se in (("drop", mean, mean_se), ("drop_weighted", weighted, weighted_se)):
                    drop = base["accuracy"] - value
                    entry[key] = drop
                    entry[f"{key}_ci"] = _interval(drop, math.sqrt(_variance(base) + se ** 2), -1.0, 1.0)
        models[model] = entry
    return {"in_domain": inside, "out_of_domain": outside, "in_domain_requested": list(in_domain),
            "leaked": {task: count for task, count in (leaked or {}).items() if task in inside + outside and count},
            "interval": "95%, normal approximation, tasks independent", "models": models}


def task_record(name: str, runs) -> dict:
    """What the board knows of a task's definition: a run config's ``task`` mapping, else the packaged task
    of that name (or of the name without a ``-<variant>`` suffix), else ``{}``."""
    from benchmarks.score.figures import as_mapping

    for run in runs:
        task = as_mapping((run.config or {}).get("task"))
        if isinstance(task.get("source"), str):
            return task
    from benchmarks.spec.task import load_task, packaged_tasks

    known = packaged_tasks()
    for candidate in (name, name.rsplit("-", 1)[0]):
        if candidate in known:
            found = load_task(candidate)
            return {"source": found.source, "derive_from": found.derive_from}
    return {}


def held_out_tasks(runs) -> list[str]:
    """The board's held-out tasks: a held-out dataset read as it ships or an image folder (``source: heldout``
    or ``folder``), or derived from one (``fi2`` from ``fi8``); by the run configs, else the packaged task."""
    by_task: dict[str, list] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    records = {task: task_record(task, group) for task, group in by_task.items()}

    def held_out(task: str, seen: frozenset = frozenset()) -> bool:
        record = records.get(task)
        if record is None:
            record = records[task] = task_record(task, [])
        source = record.get("source")
        base = record.get("derive_from")
        if source == "derived" and isinstance(base, str) and base not in seen:
            return held_out(base, seen | {task})
        return source in ("heldout", "folder")

    return [task for task in by_task if held_out(task)]


#: Task sources that are probes, never ranked (the blank image).
UNRANKED_SOURCES = ("blank",)


def unranked_tasks(runs) -> set[str]:
    """The board's probe tasks (``source: blank``): reported, never ranked; by the run configs, else the
    packaged task."""
    by_task: dict[str, list] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    return {task for task, group in by_task.items() if task_record(task, group).get("source") in UNRANKED_SOURCES}


def check_in_domain(value) -> tuple[str, ...]:
    """The in-domain task names of ``--in-domain`` (a comma-separated list or a sequence), at least one."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(name).strip() for name in names if str(name).strip()))
    if not names:
        raise UsageError(f"--in-domain {value!r}: name at least one task (default {','.join(IN_DOMAIN)})")
    return names


__all__ = ["IN_DOMAIN", "check_in_domain", "domain_summary", "held_out_tasks"]
