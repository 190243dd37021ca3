"""Which models of a task are statistically tied with the best, their ranks, and the smallest difference the
task can detect.

* **Tied with the best.** The leader is the model with the highest accuracy (the first by name on a tie). Each
  other model is compared with it by the exact McNemar test over the samples both scored
  (:func:`benchmarks.score.metrics.pairwise_mcnemar`); the ``K - 1`` p-values are Holm-corrected together
  (:func:`holm`, alpha :data:`ALPHA`). A model is tied with the
  best unless its comparison is rejected and the leader was right on more of the discordant samples. The leader
  is tied with itself. A model that shares no sample with the leader cannot be tested: ``None``.
* **Rank.** The leader's rank is 1; every other model's rank is 1 + the number of models significantly better
  than it: the leader when the test above finds it so, and each other model whose exact McNemar test against it
  is rejected after Holm's correction over **all** ``K (K - 1) / 2`` pairs of the task's models and that was
  right on more of their discordant samples. Models tied with the best have rank 1 unless some non-leading
  model is significantly better than them (McNemar is not transitive, so this can happen, rarely); models with
  the same count share a rank.
* **Minimum detectable difference** at the task's ``n``:
  ``MDD = (z_0.975 + z_0.80) * sqrt(2 p (1 - p) / n)``, ``p`` the leader's accuracy and ``n`` the task's sample
  count: the accuracy gap two models need to be told apart with 80% power by a two-sided test at 5%, under a
  normal approximation for two independent proportions (paired tests such as McNemar usually do better).
"""

from __future__ import annotations

import math

#: Family-wise error rate of the tie tests.
ALPHA = 0.05
#: Power of the minimum detectable difference.
POWER = 0.80

METHOD = ("exact McNemar (two-sided) of each model against the leader over the samples both scored, "
          "Holm-corrected over the K-1 comparisons")
RANK_METHOD = ("1 for the leader; otherwise 1 + the number of models significantly better: the leader by the "
               "test against the leader, and any other model whose exact McNemar test against it is rejected after "
               "Holm's correction over all K(K-1)/2 pairs of the task and that was right more often on their "
               "discordant samples")


def minimum_detectable_difference(p: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> dict:
    """``(z_{1-alpha/2} + z_{power}) * sqrt(2 p (1 - p) / n)`` with the normal quantiles of SciPy, and what
    went into it."""
    from scipy.stats import norm

    z_alpha, z_power = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    value = (z_alpha + z_power) * math.sqrt(2 * p * (1 - p) / n)
    return {"value": value, "p": p, "n": n, "alpha": alpha, "power": power, "z_alpha": z_alpha, "z_power": z_power,
            "formula": "(z_0.975 + z_0.80) * sqrt(2 * p * (1 - p) / n), p = the leader's accuracy, "
                       "n = the task's sample count"}


def _better(pair: dict) -> int:
    """+1 when the first model of a McNemar pair was right on more discordant samples, -1 when the second was."""
    (_, only_first), (only_second, _) = pair["table"]
    return (only_first > only_second) - (only_second > only_first)


def holm(p_values: list[float], alpha: float = ALPHA) -> tuple[list[bool], list[float]]:
    """Holm's step-down correction: ``(rejected, adjusted p)`` in the order given. Sorted ascending, the
    ``j``-th smallest p (from 0) becomes ``max over i <= j of min(1, (m - i) p_(i))``, and a hypothesis is
    rejected when its adjusted p is at most ``alpha`` (statsmodels' ``multipletests(method="holm")`` gives the
    same; it is not called here because it runs a full garbage collection on every call, about a second with
    half a million prediction rows in memory)."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for position, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - position) * p_values[index]))
        adjusted[index] = running
    return [value <= alpha for value in adjusted], adjusted


def tied_groups(order: list[str], pairs: dict[tuple[str, str], dict], *, alpha: float = ALPHA) -> dict:
    """The tie section of a task: ``order`` lists its models best first (the leader first); ``pairs`` is
    :func:`~benchmarks.score.metrics.pairwise_mcnemar` of their outcomes. Returns the leader, per model the
    comparison with the leader (``p_value``, Holm's ``p_holm``, ``significant``), ``tied_with_best`` and ``rank``,
    the models significantly better than each model, and the tied group."""
    leader, others = order[0], order[1:]
    tested = [model for model in others if (leader, model) in pairs]
    reject, corrected = holm([pairs[(leader, model)]["p_value"] for model in tested], alpha)
    comparisons = {}
    for model, rejected, p_holm in zip(tested, reject, corrected):
        pair = pairs[(leader, model)]
        comparisons[model] = {"n": pair["n"], "p_value": pair["p_value"], "p_holm": p_holm,
                              "significant": rejected and _better(pair) > 0}
    tied = {leader: True, **{model: (None if model not in comparisons else not comparisons[model]["significant"])
                             for model in others}}
    everyone = [(a, b) for i, a in enumerate(order) for b in order[i + 1:] if (a, b) in pairs]
    reject_all, _ = holm([pairs[pair]["p_value"] for pair in everyone], alpha)
    better: dict[str, list[str]] = {model: [] for model in order}
    for (a, b), rejected in zip(everyone, reject_all):
        if leader in (a, b) or not rejected:
            continue
        direction = _better(pairs[(a, b)])
        if direction:
            better[b if direction > 0 else a].append(a if direction > 0 else b)
    for model in others:
        if comparisons.get(model, {}).get("significant"):
            better[model].insert(0, leader)
    rank = {model: 1 + len(better[model]) for model in order}
    return {"leader": leader, "alpha": alpha, "method": METHOD, "rank_method": RANK_METHOD,
            "comparisons": comparisons, "tied_with_best": [m for m in order if tied[m]],
            "untested": [m for m in order if tied[m] is None],
            "per_model": {m: {"tied_with_best": tied[m], "rank": rank[m], "significantly_better": better[m]}
                          for m in order}}


__all__ = ["ALPHA", "METHOD", "POWER", "RANK_METHOD", "holm", "minimum_detectable_difference", "tied_groups"]
