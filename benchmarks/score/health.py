"""Answer health of a run: does the model spread its answers over the labels, or lean on one?

* **top-label share**: the share of the readable answers (parse failures left out; their rate is reported on its
  own) that name the most frequent predicted label (``top_label``; the first in the task's order on a tie).
  A run is **flagged** (``top_label_flag``) when that share is at least :data:`FLAG_SHARE` on a task with three
  or more labels; on a two-label task one label always holds at least half the answers, so the flag is
  ``None`` there.
* **TV distance**: the total-variation distance between the distribution of the readable answers over the
  labels and the distribution of the gold labels over all samples, ``0.5 * sum_k |q_pred(k) - q_gold(k)|``
  (0: the answers follow the task's label distribution; 1: disjoint).

Both with ``answered`` (the readable answers) and a 95% percentile-bootstrap interval over the samples (2,000
resamples, seeded). Both figures depend only on how often each (gold, answer) pair occurs, and a resample of
the ``n`` samples holds the pairs ``Multinomial(n, pair shares)`` times, so the resamples are drawn as such
counts (the same distribution, at the cost of ``k(k+1)`` cells instead of ``n``); ``None`` when nothing was
answered.
"""

from __future__ import annotations

from collections.abc import Sequence

#: A run whose most frequent answer holds at least this share of its readable answers is flagged.
FLAG_SHARE = 0.5

HEALTH_KEYS = ("answered", "top_label", "top_label_share", "top_label_share_ci", "top_label_flag", "tv_distance",
               "tv_distance_ci")


def answer_health(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str], *, seed: int = 0) -> dict:
    """Top-label share (and flag) and TV distance of one run (see the module docstring)."""
    import numpy as np

    from benchmarks.score.metrics import BOOTSTRAP_RESAMPLES, percentile_interval

    labels = list(labels)
    code = {label: i for i, label in enumerate(labels)}
    k, n = len(labels), len(gold)
    g = np.fromiter((code[x] for x in gold), dtype=np.int64, count=n)
    p = np.fromiter((k if x is None else code[x] for x in pred), dtype=np.int64, count=n)
    answered = int((p < k).sum())
    if not answered:
        return {**dict.fromkeys(HEALTH_KEYS), "answered": 0}
    pairs = np.bincount(g * (k + 1) + p, minlength=k * (k + 1))   # (gold, answer) pairs; answer k: unreadable

    def figures(counts):
        """Top-label share and TV distance from (gold, answer) pair counts (``r x k(k+1)``)."""
        table = counts.reshape(-1, k, k + 1)
        gold_counts, pred_counts = table.sum(axis=2), table.sum(axis=1)[:, :k]
        given = pred_counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            q_pred = pred_counts / given
        q_gold = gold_counts / gold_counts.sum(axis=1, keepdims=True)
        return q_pred.max(axis=1), 0.5 * np.abs(q_pred - q_gold).sum(axis=1)

    share, tv = figures(pairs[None, :])
    # a bootstrap resample of the samples holds each (gold, answer) pair a multinomial number of times
    resampled = np.random.default_rng(seed).multinomial(n, pairs / n, size=BOOTSTRAP_RESAMPLES)
    resampled_share, resampled_tv = figures(resampled)
    kept = ~np.isnan(resampled_share)                      # a resample without a readable answer has no figure
    top = int(np.bincount(p[p < k], minlength=k).argmax())
    return {"answered": answered, "top_label": labels[top], "top_label_share": float(share[0]),
            "top_label_share_ci": percentile_interval(resampled_share[kept]),
            "top_label_flag": bool(share[0] >= FLAG_SHARE) if k > 2 else None,
            "tv_distance": float(tv[0]), "tv_distance_ci": percentile_interval(resampled_tv[kept])}


__all__ = ["FLAG_SHARE", "HEALTH_KEYS", "answer_health"]
