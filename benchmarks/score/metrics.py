"""The figures of a leaderboard, computed with scikit-learn, SciPy and statsmodels.

* **accuracy** (= weighted accuracy, WA): share of samples whose prediction equals the gold label; a parse
  failure (``pred`` null) is wrong. ``sklearn.metrics.accuracy_score``.
* **macro-F1**: unweighted mean of per-class F1 over the task's labels that occur in the gold labels or the
  predictions (a label nobody used is not averaged in as a zero). ``sklearn.metrics.f1_score``.
* **UAR** (unweighted average recall): mean per-class recall over the labels present in the gold labels.
  ``sklearn.metrics.recall_score``.
* **per-class** precision, recall, F1 and support (``precision_recall_fscore_support``) and the **confusion
  matrix** (rows gold, columns predicted, a last column for parse failures; ``confusion_matrix``).
* **parse-failure rate**: share of samples whose answer could not be read.
* **95% CI of accuracy**: percentile bootstrap (``scipy.stats.bootstrap``, 2,000 resamples of the per-sample
  correctness, a seeded NumPy generator): the same predictions and seed give the same interval.
* **McNemar**: exact test (``statsmodels.stats.contingency_tables.mcnemar(exact=True)``, a two-sided binomial
  test on the discordant pairs) between two models over the ids both scored.
* **resampled sums** (:func:`bootstrap_sums`): the same percentile bootstrap for figures that are functions of
  per-sample columns (calibration, answer health): each resample's column sums, from resample counts drawn once
  per (n, seed) and shared by every run of that length, so 2,000 resamples of 10,000 samples cost one matrix
  product per run.
* **agreement across instruction variants**: share of images answered identically (and readably) under every
  variant, and Fleiss' kappa (``statsmodels.stats.inter_rater``) with the variants as raters.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Column name of parse failures in confusion matrices.
UNPARSED = "(unparsed)"
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


def classification_metrics(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, UAR, per-class figures, confusion matrix and parse failures of one run.

    Labels are coded as integers (position in ``labels``; a parse failure one past the last) before they go
    to scikit-learn: the same figures as on the strings, without sorting strings on every call.
    """
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        recall_score,
    )

    gold, pred, labels = list(gold), list(pred), list(labels)
    if len(gold) != len(pred):
        raise ValueError(f"{len(pred)} predictions for {len(gold)} gold labels")
    if not gold:
        raise ValueError("no samples to score")
    code = {label: i for i, label in enumerate(labels)}
    unparsed = len(labels)
    unknown = sorted({x for x in [*gold, *pred] if x is not None and x not in code})
    if unknown:
        raise ValueError(f"labels {', '.join(map(repr, unknown))} are not among {', '.join(labels)}")
    g = np.fromiter((code[x] for x in gold), dtype=np.int64, count=len(gold))
    p = np.fromiter((unparsed if x is None else code[x] for x in pred), dtype=np.int64, count=len(pred))
    seen_gold, seen_pred = set(np.unique(g).tolist()), set(np.unique(p).tolist())
    every = list(range(len(labels)))
    used = [i for i in every if i in seen_gold | seen_pred]
    present = [i for i in every if i in seen_gold]
    precision, recall, f1, support = precision_recall_fscore_support(g, p, labels=every, zero_division=0)
    matrix = confusion_matrix(g, p, labels=[*every, unparsed])[: len(labels)]
    failures = int((p == unparsed).sum())
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(g, p)),
        "macro_f1": float(f1_score(g, p, labels=used, average="macro", zero_division=0)),
        "uar": float(recall_score(g, p, labels=present, average="macro", zero_division=0)),
        "parse_failures": failures,
        "parse_failure_rate": failures / len(gold),
        "per_class": {label: {"precision": float(pr), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, pr, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": {"labels": labels, "columns": [*labels, UNPARSED], "matrix": matrix.tolist()},
    }


def bootstrap_ci(correct: Sequence[bool | int | float], *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean of ``correct`` (0/1 per sample)."""
    import numpy as np
    from scipy.stats import bootstrap

    values = np.asarray(correct, dtype=float)
    if values.size == 0:
        raise ValueError("no samples to bootstrap")
    if values.size == 1 or np.all(values == values[0]):
        return float(values[0]), float(values[0])  # every resample has the same mean
    if np.all((values == 0) | (values == 1)):
        # 0/1 data resampled as int8: the same draws and the same means as float64 (sums of 0/1 are exact),
        # with an eighth of the memory traffic
        values = values.astype(np.int8)
    result = bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=confidence,
                       method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return float(low), float(high)


#: Resamples drawn at a time (bounds the memory of one draw).
_CHUNK = 250
#: Largest ``resamples x n`` whose counts :func:`resample_counts` keeps (as float32: 100 MB) for the next run of
#: the same length; larger draws are made chunk by chunk and not kept.
_CACHED_CELLS = 25_000_000
_counts_cache: dict[tuple[int, int, int], object] = {}


def _count_chunks(n: int, seed: int, resamples: int):
    """``(first resample, counts)`` of ``_CHUNK`` resamples at a time: how often each of ``n`` samples is drawn
    (with replacement, a seeded NumPy generator), as float32 (exact for counts below 2**24) so they multiply
    without a copy and with half the memory traffic of float64."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        drawn = rng.integers(0, n, size=(rows, n))
        counts = np.bincount((drawn + np.arange(rows)[:, None] * n).ravel(), minlength=rows * n).reshape(rows, n)
        yield start, counts.astype(np.float32)


def resample_counts(n: int, *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES):
    """How often each of ``n`` samples is drawn in each of ``resamples`` bootstrap resamples (a float32
    ``resamples x n`` array; row ``r`` sums to ``n``). The same ``(n, seed, resamples)`` gives the same counts;
    the last result of at most :data:`_CACHED_CELLS` cells is kept, since every run of a task usually has the
    same length."""
    import numpy as np

    key = (n, seed, resamples)
    if key in _counts_cache:
        return _counts_cache[key]
    result = np.concatenate([counts for _, counts in _count_chunks(n, seed, resamples)])
    if resamples * n <= _CACHED_CELLS:
        _counts_cache.clear()
        _counts_cache[key] = result
    return result


def bootstrap_sums(columns, *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES):
    """Column sums of ``columns`` (``n x k``, one row per sample) in each bootstrap resample
    (:func:`resample_counts`): a ``resamples x k`` array. A figure that is a function of such sums (a mean, a
    share, ECE's per-bin gaps) then has its percentile interval from the ``resamples`` values. The products
    run in float32 (relative error about 1e-6, far below any interval's width) and come back as float64."""
    import numpy as np

    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim != 2 or not columns.shape[0]:
        raise ValueError("bootstrap_sums needs an n x k array with n >= 1")
    n, single = columns.shape[0], columns.astype(np.float32)
    if resamples * n <= _CACHED_CELLS:
        return (resample_counts(n, seed=seed, resamples=resamples) @ single).astype(np.float64)
    sums = np.empty((resamples, columns.shape[1]))
    for start, counts in _count_chunks(n, seed, resamples):
        sums[start:start + len(counts)] = counts @ single
    return sums


def percentile_interval(values, confidence: float = CONFIDENCE) -> list[float]:
    """``[low, high]``: the central ``confidence`` share of bootstrap ``values`` (NumPy's linear percentiles)."""
    import numpy as np

    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(np.asarray(values, dtype=np.float64), [tail, 100 - tail])
    return [float(low), float(high)]


def mcnemar_table(table: Sequence[Sequence[int]]) -> float:
    """Two-sided exact McNemar p-value of a 2x2 table ``[[both right, only first], [only second, neither]]``
    (``statsmodels``; 1 when the models never disagree)."""
    from statsmodels.stats.contingency_tables import mcnemar

    if table[0][1] + table[1][0] == 0:
        return 1.0
    return min(1.0, float(mcnemar([list(row) for row in table], exact=True).pvalue))


def mcnemar_exact(first_correct: Sequence[bool], second_correct: Sequence[bool]) -> dict:
    """Exact McNemar test of two models on the same samples: the 2x2 table and its two-sided p-value."""
    first, second = [bool(x) for x in first_correct], [bool(x) for x in second_correct]
    if len(first) != len(second):
        raise ValueError("McNemar needs both models' results on the same samples")
    both = sum(a and b for a, b in zip(first, second))
    only_first = sum(a and not b for a, b in zip(first, second))
    only_second = sum(b and not a for a, b in zip(first, second))
    neither = len(first) - both - only_first - only_second
    table = [[both, only_first], [only_second, neither]]
    return {"table": table, "p_value": mcnemar_table(table), "n": len(first)}


def pairwise_mcnemar(outcomes: dict[str, dict[str, bool]]) -> dict[tuple[str, str], dict]:
    """Exact McNemar of every ordered pair of models over the sample ids both scored.

    ``outcomes`` maps each model to ``{sample id: correct}``. Returns ``{(first, second): {"table", "p_value",
    "n"}}`` for every pair with at least one common id (the table of ``(b, a)`` is that of ``(a, b)``
    transposed). The counts come from boolean arrays over the union of ids, so many models on many samples
    cost one vectorised pass per pair.
    """
    import numpy as np

    models = list(outcomes)
    ids = sorted(set().union(*(outcomes[m] for m in models))) if models else []
    position = {sample: i for i, sample in enumerate(ids)}
    scored, right = {}, {}
    for model in models:
        where = np.fromiter((position[s] for s in outcomes[model]), dtype=np.int64, count=len(outcomes[model]))
        scored[model] = np.zeros(len(ids), dtype=bool)
        scored[model][where] = True
        right[model] = np.zeros(len(ids), dtype=bool)
        right[model][where] = np.fromiter(outcomes[model].values(), dtype=bool, count=len(where))
    results: dict[tuple[str, str], dict] = {}
    for i, first in enumerate(models):
        for second in models[i + 1:]:
            common = scored[first] & scored[second]
            n = int(common.sum())
            if not n:
                continue
            a, b = right[first] & common, right[second] & common
            both, only_first, only_second = int((a & b).sum()), int((a & ~b).sum()), int((b & ~a).sum())
            table = [[both, only_first], [only_second, n - both - only_first - only_second]]
            p_value = mcnemar_table(table)
            results[(first, second)] = {"table": table, "p_value": p_value, "n": n}
            results[(second, first)] = {"table": [[table[0][0], table[1][0]], [table[0][1], table[1][1]]],
                                        "p_value": p_value, "n": n}
    return results


def variant_agreement(answers: dict[str, dict[str, str | None]]) -> dict:
    """Agreement of the answers to several instruction variants.

    ``answers`` maps each image to ``{variant: predicted label or None}``; only images answered under every
    variant count. Returns the share of images with one readable answer under all variants, Fleiss' kappa
    (parse failures a category of their own) and the number of images.
    """
    import numpy as np
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    variants = sorted({v for per_image in answers.values() for v in per_image})
    complete = [per_image for per_image in answers.values() if set(per_image) == set(variants)]
    if len(variants) < 2 or not complete:
        return {"images": len(complete), "variants": variants, "agreement": None, "fleiss_kappa": None}
    same = sum(len({p[v] for v in variants}) == 1 and p[variants[0]] is not None for p in complete)
    categories = sorted({UNPARSED if p[v] is None else p[v] for p in complete for v in variants})
    coded = np.array([[categories.index(UNPARSED if p[v] is None else p[v]) for v in variants] for p in complete])
    counts, _ = aggregate_raters(coded, n_cat=len(categories))
    kappa = float(fleiss_kappa(counts, method="fleiss")) if len(categories) > 1 else 1.0
    return {"images": len(complete), "variants": variants, "agreement": same / len(complete),
            "fleiss_kappa": None if np.isnan(kappa) else kappa}


__all__ = ["BOOTSTRAP_RESAMPLES", "CONFIDENCE", "UNPARSED", "bootstrap_ci", "bootstrap_sums", "classification_metrics",
           "mcnemar_exact", "mcnemar_table", "pairwise_mcnemar", "percentile_interval", "resample_counts",
           "variant_agreement"]
