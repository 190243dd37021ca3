"""Calibration of a run whose rows carry per-label ``scores`` (rank mode; API models with ``top_logprobs``).

A row's probabilities are the softmax of its scores over the task's labels (scores matched to labels by name,
trimmed and case-folded; a row whose scores miss a label is left out and counted). On those rows:

* **ECE** (expected calibration error, Guo et al. 2017): the confidence of a row is its top probability, its
  answer the label with that probability (the first in the task's order on a tie); rows fall into
  :data:`BINS` equal-width bins ``((b-1)/15, b/15]`` by confidence, and ``ECE = sum_b |B_b|/n * |acc(B_b) -
  conf(B_b)|``, with ``acc`` the share of rows whose answer is the gold label and ``conf`` the mean confidence.
* **Brier score** (multi-class): the mean over rows of ``sum_k (p_k - y_k)^2``, ``y`` the gold label's one-hot
  vector (0 for a perfect forecast, 2 at worst).
* **NLL**: the mean over rows of ``-ln p_gold`` (natural log), from the log-softmax, so it stays finite.

Each comes with its 95% percentile-bootstrap interval (2,000 resamples of the rows, seeded:
:func:`benchmarks.score.metrics.bootstrap_sums`) and ``calibration_n``, the rows it was computed on. A run
without scores gets ``None`` for every figure (shown "–", never 0); ``calibration_skipped`` counts rows with
scores that miss a label. :func:`reliability` holds the diagram's bins. ECE is biased upwards on few rows, so
its bootstrap interval can lie above the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Equal-width confidence bins of ECE and the reliability diagram (Guo et al. 2017 use 15).
BINS = 15

#: The row keys :func:`calibration` fills (``None`` for a run without scores).
CALIBRATION_KEYS = ("calibration_n", "calibration_skipped", "ece", "ece_ci", "brier", "brier_ci", "nll", "nll_ci",
                    "reliability")


def label_probabilities(rows: Sequence[dict], labels: Sequence[str]):
    """``(probabilities, log_probabilities, positions)`` of the rows that carry a score for every label:
    ``m x K`` arrays in the order of ``labels`` (softmax over the task's labels; scores of other keys are
    ignored) and the positions of those rows in ``rows``. ``(None, None, [])`` when no row qualifies."""
    import numpy as np
    from scipy.special import log_softmax

    from schemas.predictions import label_key

    labels = tuple(labels)
    keys = {label_key(label): i for i, label in enumerate(labels)}
    values, positions = [], []
    for position, row in enumerate(rows):
        scores = row.get("scores")
        if not scores:
            continue
        if tuple(scores) == labels:  # our writers: every label, in the task's order
            values.append(list(scores.values()))
            positions.append(position)
            continue
        found = [None] * len(labels)
        for key, value in scores.items():
            index = keys.get(label_key(key)) if isinstance(key, str) else None
            if index is not None:
                found[index] = value
        if all(value is not None for value in found):
            values.append(found)
            positions.append(position)
    if not values:
        return None, None, []
    log_p = log_softmax(np.asarray(values, dtype=np.float64), axis=1)
    return np.exp(log_p), log_p, positions


def bin_index(confidence):
    """The bin (0 .. :data:`BINS` - 1) of each confidence: bin ``b`` holds ``(b/15, (b+1)/15]``, with the
    edges of ``numpy.linspace(0, 1, 16)`` (a confidence on an edge belongs to the bin below it)."""
    import numpy as np

    edges = np.linspace(0.0, 1.0, BINS + 1)
    return np.searchsorted(edges[1:-1], np.asarray(confidence, dtype=np.float64), side="left")


def reliability(confidence, correct) -> dict:
    """The reliability diagram's bins: per bin its edges, row count, accuracy and mean confidence (``None``
    for an empty bin)."""
    import numpy as np

    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    index = bin_index(confidence)
    counts = np.bincount(index, minlength=BINS)
    right = np.bincount(index, weights=correct, minlength=BINS)
    sure = np.bincount(index, weights=confidence, minlength=BINS)
    edges = np.linspace(0.0, 1.0, BINS + 1)
    return {"bins": BINS, "edges": [float(e) for e in edges],
            "counts": [int(c) for c in counts],
            "accuracy": [float(r / c) if c else None for r, c in zip(right, counts)],
            "confidence": [float(s / c) if c else None for s, c in zip(sure, counts)]}


def calibration(rows: Sequence[dict], labels: Sequence[str], *, seed: int = 0) -> dict:
    """ECE, Brier score and NLL of ``rows`` with their 95% bootstrap intervals, the reliability bins, and how
    many rows they come from (see the module docstring); every value ``None`` when no row has scores."""
    import numpy as np

    from benchmarks.score.metrics import bootstrap_sums, percentile_interval
    from schemas.predictions import label_key

    with_scores = sum(1 for row in rows if row.get("scores"))
    probabilities, log_p, positions = label_probabilities(rows, labels) if with_scores else (None, None, [])
    if probabilities is None:
        return {**dict.fromkeys(CALIBRATION_KEYS), "calibration_skipped": with_scores or None}
    index = {label_key(label): i for i, label in enumerate(labels)}
    gold = np.fromiter((index[label_key(rows[p]["gold"])] for p in positions), dtype=np.int64, count=len(positions))
    m = len(positions)
    answer = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(m), answer]
    correct = (answer == gold).astype(np.float64)
    p_gold = probabilities[np.arange(m), gold]
    brier = (probabilities ** 2).sum(axis=1) - 2 * p_gold + 1
    nll = -log_p[np.arange(m), gold]
    bins = bin_index(confidence)
    gap = np.zeros((m, BINS))
    gap[np.arange(m), bins] = correct - confidence     # ECE = sum_b |sum_{i in b} (correct_i - conf_i)| / n
    sums = bootstrap_sums(np.column_stack([gap, brier, nll]), seed=seed)
    ece_resampled = np.abs(sums[:, :BINS]).sum(axis=1) / m
    return {
        "calibration_n": m,
        "calibration_skipped": with_scores - m,
        "ece": float(np.abs(gap.sum(axis=0)).sum() / m),
        "ece_ci": percentile_interval(ece_resampled),
        "brier": float(brier.mean()),
        "brier_ci": percentile_interval(sums[:, BINS] / m),
        "nll": float(nll.mean()),
        "nll_ci": percentile_interval(sums[:, BINS + 1] / m),
        "reliability": reliability(confidence, correct),
    }




def per_sample(rows: Sequence[dict], labels: Sequence[str]) -> list[dict]:
    """Each row's share of the calibration figures (``None`` values for a row without a score for every
    label): ``confidence`` (top probability), ``p_gold``, its ``brier`` term and ``nll`` term, so the
    published details recompute ECE, Brier and NLL."""
    from schemas.predictions import label_key

    found = [dict.fromkeys(PER_SAMPLE_KEYS) for _ in rows]
    probabilities, log_p, positions = label_probabilities(rows, labels)
    if probabilities is None:
        return found
    index = {label_key(label): i for i, label in enumerate(labels)}
    for p, logs, position in zip(probabilities, log_p, positions):
        gold = index[label_key(rows[position]["gold"])]
        found[position] = {"confidence": float(p.max()), "p_gold": float(p[gold]),
                           "brier": float((p ** 2).sum() - 2 * p[gold] + 1), "nll": float(-logs[gold])}
    return found


#: The per-sample columns of :func:`per_sample`.
PER_SAMPLE_KEYS = ("confidence", "p_gold", "brier", "nll")


__all__ = ["BINS", "CALIBRATION_KEYS", "PER_SAMPLE_KEYS", "bin_index", "calibration", "label_probabilities",
           "per_sample", "reliability"]
