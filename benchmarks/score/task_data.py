"""What the per-task sections of the leaderboard read besides a run's figures: the task itself, its per-image
data, and every run's answers read again by our parser, gathered once per task.

The task comes from a run's ``config.json`` (our runs describe it whole), else from the packaged task of the
same name (imported runs); the per-image data (votes, valence, EmoSet attributes) from ``sample_data.jsonl``
beside the predictions, else from the data where it lies (:func:`benchmarks.data.sample_data.leaderboard_task_data`).
The sections themselves are :mod:`benchmarks.score.votes`, :mod:`benchmarks.score.slices` and
:mod:`benchmarks.score.probes`; each is one call per task, ``section(task_name, runs, context)``, returning a
plain JSON-able dict or ``None`` where it does not apply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.score.figures import RunRecord, reparse
from benchmarks.spec.task import Task, task_of_run
from schemas.predictions import label_key

#: z of a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass
class TaskContext:
    """One task of the board: its :class:`Task` (``None`` when unknown), labels, and per-image data by image id."""

    name: str
    task: Task | None
    labels: tuple[str, ...]
    records: dict[str, dict] = field(default_factory=dict)
    _answers: dict[int, list[dict]] = field(default_factory=dict, repr=False)

    def answers(self, run: RunRecord) -> list[dict]:
        """The run's rows with generated answers read again by our parser (:func:`benchmarks.score.figures.reparse`)."""
        if id(run) not in self._answers:
            self._answers[id(run)] = reparse(run)[0]
        return self._answers[id(run)]


def task_contexts(runs: list[RunRecord], data: dict | None = None) -> dict[str, TaskContext]:
    """A :class:`TaskContext` per task of ``runs``; ``data`` is the leaderboard's ``data.*`` options
    (:func:`benchmarks.data.sample_data.parse_data_options`) for runs whose folders carry no per-image data."""
    from benchmarks.data.sample_data import leaderboard_task_data

    grouped: dict[str, list[RunRecord]] = {}
    for run in runs:
        grouped.setdefault(run.task, []).append(run)
    tasks = {}
    for name, group in grouped.items():
        task = next((found for run in group if (found := task_of_run(name, run.config)) is not None), None)
        tasks[name] = (task, [run.source.parent for run in group],
                       {str(row["image_id"]) for run in group for row in run.rows})
    found = leaderboard_task_data(tasks, data)
    return {name: TaskContext(name, tasks[name][0], _labels(tasks[name][0], group[0].labels), found.get(name, {}))
            for name, group in grouped.items()}


def _labels(task: Task | None, seen: tuple[str, ...]) -> tuple[str, ...]:
    """The task file's labels when the runs' labels are among them (an imported run without a config names only
    the labels its rows hold), else the runs' own."""
    if task is not None and {label_key(x) for x in seen} <= {label_key(x) for x in task.labels}:
        return task.labels
    return seen


def probabilities(scores, labels) -> dict[str, float] | None:
    """The softmax of a row's per-label ``scores`` over the task's labels (labels matched by
    :func:`schemas.predictions.label_key`); ``None`` without a score for every label."""
    if not isinstance(scores, dict):
        return None
    keyed = {label_key(k): v for k, v in scores.items()}
    values = [keyed.get(label_key(label)) for label in labels]
    if any(v is None for v in values):
        return None
    top = max(values)
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return {label: w / total for label, w in zip(labels, weights)}


def wilson(successes: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of ``successes / n`` (``None`` for ``n = 0``)."""
    if n == 0:
        return None
    p, z2 = successes / n, Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def proportion(successes: int, n: int) -> dict:
    """``{"n", "k", "rate", "ci"}``: a share with its 95% Wilson interval (rate and ci ``None`` for ``n = 0``)."""
    return {"n": n, "k": successes, "rate": successes / n if n else None, "ci": wilson(successes, n)}


def mean_ci(values: list[float]) -> dict:
    """``{"n", "mean", "ci"}``: a mean with its 95% normal interval ``mean ± 1.96·sd/√n`` (sample sd; ``ci``
    ``None`` below two values, ``mean`` ``None`` for none)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "ci": None}
    mean = sum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "ci": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return {"n": n, "mean": mean, "ci": [mean - Z95 * sd / math.sqrt(n), mean + Z95 * sd / math.sqrt(n)]}


def correct(row: dict) -> bool:
    return row["pred"] is not None and row["pred"] == row["gold"]


__all__ = ["Z95", "TaskContext", "correct", "mean_ci", "probabilities", "proportion", "task_contexts", "wilson"]
