"""Slices by EmoSet attribute, and errors split by polarity.

* **Slices** (tasks built from our dataset: their images carry EmoSet's ``attributes`` in the task data):
  per value of each attribute, each model's accuracy over the rows of the images holding that value, with n
  and a 95% Wilson interval. ``scene``, ``facial_expression`` and ``human_action`` take one value per image
  (images without one are in no slice); ``objects`` is a list, an image is in the slice of every object it
  shows; ``brightness`` and ``colorfulness`` (0-1) fall in bins of width 0.2, ``[0.0, 0.2)`` ...
  ``[0.8, 1.0]``. A task asked in several variants (sensitivity) is sliced on its reference variant's rows
  (``original``), one per image. The **five hardest slices** of a model are its five lowest accuracies among slices with
  n ≥ 20 (ties broken by larger n, then attribute and value).
* **Polarity errors** (every task whose labels all have a polarity in :data:`POLARITY`): a wrong answer
  (a label other than gold) is *same-polarity* when gold and answer share a polarity (awe → contentment),
  *cross-polarity* when they differ (awe → fear), *unpolarised* when either has none (surprise); unparsed
  answers are counted apart; the blank probe (no emotion to get wrong) has none. ``cross_share`` = cross / (same + cross).
"""

from __future__ import annotations

import math

from benchmarks.score.figures import RunRecord
from benchmarks.score.task_data import TaskContext, correct, proportion
from schemas.heldout import MIKELS_POLARITY, WEBEMO7_POLARITY
from schemas.predictions import label_key

#: Polarity of every emotion label the packaged tasks use: Mikels' eight as EmoSet reports them, WEBEmo's and
#: UnBiasedEmo's (joy and love positive; surprise none).
POLARITY: dict[str, str | None] = {**MIKELS_POLARITY, **WEBEMO7_POLARITY}
#: Attributes with one value per image; ``objects`` holds a list; the binned ones are numbers in [0, 1].
CATEGORICAL = ("scene", "objects", "facial_expression", "human_action")
BINNED = ("brightness", "colorfulness")
BIN_WIDTH = 0.2
#: Slices considered for the hardest five, and how many are listed.
HARDEST_MIN_N = 20
HARDEST_COUNT = 5


def polarity_map(labels) -> dict[str, str | None] | None:
    """``{label: positive|negative|None}`` when every label has an entry in :data:`POLARITY`, else ``None``."""
    keyed = {label_key(k): v for k, v in POLARITY.items()}
    if not labels or any(label_key(label) not in keyed for label in labels):
        return None
    return {label: keyed[label_key(label)] for label in labels}


def value_bin(value) -> str | None:
    """The 0.2-wide bin of a number in [0, 1] (``"0.4-0.6"``; 1.0 falls in ``"0.8-1.0"``), else ``None``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not 0 <= value <= 1:
        return None
    index = min(math.floor(round(value / BIN_WIDTH, 9)), round(1 / BIN_WIDTH) - 1)
    return f"{index * BIN_WIDTH:.1f}-{(index + 1) * BIN_WIDTH:.1f}"


def image_slices(attributes) -> list[tuple[str, str]]:
    """The ``(attribute, value)`` slices one image belongs to."""
    if not isinstance(attributes, dict):
        return []
    found = []
    for name in CATEGORICAL:
        value = attributes.get(name)
        values = value if isinstance(value, list) else [value]
        kept = (str(v) for v in values if isinstance(v, (str, int)) and str(v).strip())
        found += [(name, v) for v in dict.fromkeys(kept)]
    for name in BINNED:
        binned = value_bin(attributes.get(name))
        if binned is not None:
            found.append((name, binned))
    return found


def slices_section(task_name: str, runs: list[RunRecord], context: TaskContext) -> dict | None:
    """The ``slices`` section for one task (``None`` when its images carry no EmoSet attributes):
    ``attributes: {attribute: {value: {model: {n, k, rate, ci}}}}`` and ``hardest: {model: [...]}``."""
    memberships = {image_id: image_slices(record.get("attributes")) for image_id, record in context.records.items()}
    if not any(memberships.values()):
        return None
    reference = context.task.reference_variant() if context.task is not None else None
    table: dict[str, dict[str, dict[str, dict]]] = {}
    hardest = {}
    for run in runs:
        counts: dict[tuple[str, str], list[int]] = {}
        for row in context.answers(run):
            if reference is not None and row.get("variant") not in (None, reference):
                continue
            for key in memberships.get(str(row["image_id"]), ()):
                tally = counts.setdefault(key, [0, 0])
                tally[0] += correct(row)
                tally[1] += 1
        for (name, value), (k, n) in counts.items():
            table.setdefault(name, {}).setdefault(value, {})[run.model] = proportion(k, n)
        eligible = sorted(((k / n, -n, name, value) for (name, value), (k, n) in counts.items() if n >= HARDEST_MIN_N))
        hardest[run.model] = [{"attribute": name, "value": value, **proportion(counts[(name, value)][0], -negative_n)}
                              for _, negative_n, name, value in eligible[:HARDEST_COUNT]]
    ordered = {name: dict(sorted(table[name].items())) for name in (*CATEGORICAL, *BINNED) if name in table}
    return {"bin_width": BIN_WIDTH, "hardest_min_n": HARDEST_MIN_N, "attributes": ordered, "hardest": hardest}


def polarity_errors_section(task_name: str, runs: list[RunRecord], context: TaskContext) -> dict | None:
    """The ``polarity_errors`` section for one task (``None`` without a polarity map): per model, its errors
    split into same-polarity, cross-polarity, unpolarised and unanswered."""
    polarity = polarity_map(context.labels)
    if (context.task is not None and context.task.source == "blank") or polarity is None or len(set(polarity.values()) - {None}) < 2:
        return None
    models = {}
    for run in runs:
        same = cross = other = unanswered = 0
        rows = context.answers(run)
        for row in rows:
            if correct(row):
                continue
            if row["pred"] is None:
                unanswered += 1
                continue
            gold, pred = polarity.get(row["gold"]), polarity.get(row["pred"])
            if gold is None or pred is None:
                other += 1
            elif gold == pred:
                same += 1
            else:
                cross += 1
        models[run.model] = {"n": len(rows), "errors": same + cross + other + unanswered, "same_polarity": same,
                             "cross_polarity": cross, "unpolarised": other, "unanswered": unanswered,
                             "cross_share": proportion(cross, same + cross)}
    return {"polarity": polarity, "models": models}


def slices_row_figures(polarity_section: dict | None, model: str) -> dict:
    """The flat ``leaderboard.json`` keys of one model from its task's ``polarity_errors`` section."""
    found = (polarity_section or {}).get("models", {}).get(model) or {}
    return {"same_polarity_errors": found.get("same_polarity"), "cross_polarity_errors": found.get("cross_polarity"),
            "cross_polarity_share": (found.get("cross_share") or {}).get("rate")}


__all__ = ["BINNED", "BIN_WIDTH", "CATEGORICAL", "HARDEST_COUNT", "HARDEST_MIN_N", "POLARITY", "image_slices",
           "polarity_errors_section", "polarity_map", "slices_row_figures", "slices_section", "value_bin"]
