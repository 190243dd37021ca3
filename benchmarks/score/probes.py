"""Probes of what a model answers besides the image.

* **Flip rate** (tasks with option-order variants, ``options: shuffled|reversed`` in the task file): per model
  and order variant, the share of images whose answer under that variant differs from its answer under the
  task's reference variant (``original``), over the images answered under both (an unparsed answer
  is an answer of its own; two unparsed answers agree); 95% Wilson interval. ``flip_rate`` on the row pools
  every order variant.
* **Gold first vs last**: over the rows of shuffled-order variants (where a label's place in the list does not
  depend on the image's class), the accuracy of the rows whose gold label was listed first, and of those
  whose gold label was listed last; the order is recomputed from the task file and the image id
  (:func:`benchmarks.spec.task.option_order`), so imported runs of the same task count too. Beside them, the
  share of answers that are the first option listed (a position prior).
* **Blank** (``source: blank`` tasks: a uniform grey image): per model, accuracy with its interval beside
  chance level (1 / number of labels), and the distribution of the labels it answered (and the unparsed
  share); never ranked.
"""

from __future__ import annotations

from benchmarks.score.figures import RunRecord
from benchmarks.score.task_data import TaskContext, correct, proportion


def _flips(task, answers: list[dict]) -> dict[str, dict] | None:
    reference = task.reference_variant()
    if reference is None or not task.orders:
        return None
    by_image: dict[str, dict[str, str | None]] = {}
    for row in answers:
        by_image.setdefault(str(row["image_id"]), {})[row.get("variant")] = row["pred"]
    found = {}
    for variant in task.orders:
        pairs = [(answered[reference], answered[variant]) for answered in by_image.values()
                 if reference in answered and variant in answered]
        found[variant] = proportion(sum(a != b for a, b in pairs), len(pairs))
    return found


def _positions(task, answers: list[dict]) -> dict | None:
    shuffled = {name for name, order in task.orders.items() if order.get("options") == "shuffled"}
    rows = [row for row in answers if row.get("variant") in shuffled]
    if not rows:
        return None
    first, last, first_option = [0, 0], [0, 0], 0
    for row in rows:
        listed = task.options_asked(row["variant"], str(row["image_id"]))
        if row["gold"] == listed[0]:
            first[0] += correct(row)
            first[1] += 1
        elif row["gold"] == listed[-1]:
            last[0] += correct(row)
            last[1] += 1
        first_option += row["pred"] == listed[0]
    return {"gold_first": proportion(*first), "gold_last": proportion(*last),
            "first_option_share": proportion(first_option, len(rows))}


def _blank(labels, answers: list[dict]) -> dict:
    n = len(answers)
    predicted = {label: sum(row["pred"] == label for row in answers) / n for label in labels}
    return {"accuracy": proportion(sum(map(correct, answers)), n), "predicted": predicted,
            "unanswered": sum(row["pred"] is None for row in answers) / n}


def probes_section(task_name: str, runs: list[RunRecord], context: TaskContext) -> dict | None:
    """The ``probes`` section for one task (``None`` unless it has option-order variants or is a blank task)."""
    task = context.task
    if task is None or not (task.orders or task.source == "blank"):
        return None
    section: dict = {"ranked": task.source != "blank"}
    if task.orders:
        section["reference_variant"] = task.reference_variant()
        section["option_orders"] = task.orders
        section["models"] = {run.model: {"flip_rate": _flips(task, context.answers(run)),
                                         **(_positions(task, context.answers(run)) or {})} for run in runs}
    if task.source == "blank":
        section["chance"] = 1 / len(context.labels)
        section["blank"] = {run.model: _blank(context.labels, context.answers(run))
                            for run in runs if context.answers(run)}
    return section


def probes_row_figures(section: dict | None, model: str) -> dict:
    """The flat ``leaderboard.json`` keys of one model from its task's ``probes`` section: the flip rate pooled
    over the order variants, and the accuracy with the gold label listed first and last, with their n."""
    found = (section or {}).get("models", {}).get(model) or {}
    flips = [value for value in (found.get("flip_rate") or {}).values() if value["n"]]
    pooled = proportion(sum(v["k"] for v in flips), sum(v["n"] for v in flips)) if flips else {}
    first, last = found.get("gold_first") or {}, found.get("gold_last") or {}
    return {"flip_rate": pooled.get("rate"), "flip_n": pooled.get("n"),
            "gold_first_accuracy": first.get("rate"), "gold_first_n": first.get("n"),
            "gold_last_accuracy": last.get("rate"), "gold_last_n": last.get("n")}


__all__ = ["probes_row_figures", "probes_section"]
