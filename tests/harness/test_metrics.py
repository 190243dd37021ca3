"""Every reported figure against an independent computation (scikit-learn, SciPy, statsmodels, by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from benchmarks.score.metrics import (
    UNPARSED,
    bootstrap_ci,
    classification_metrics,
    mcnemar_exact,
    variant_agreement,
)

LABELS = ["a", "b", "c", "d"]
GOLD = ["a", "a", "a", "b", "b", "c", "c", "c", "c", "a"]
PRED = ["a", "b", None, "b", "b", "c", "a", None, "c", "a"]


def test_accuracy_f1_uar_by_hand():
    m = classification_metrics(GOLD, PRED, LABELS)
    assert m["n"] == 10 and m["parse_failures"] == 2 and m["parse_failure_rate"] == 0.2
    assert m["accuracy"] == 0.6  # a a(b) a(None) b b c c(a) c(None) c a -> 6 right
    # per class: a: tp 2 (of 4 gold; predicted a 3 times) -> P 2/3 R 1/2; b: tp 2, predicted 3 -> P 2/3 R 1
    # c: tp 2, predicted 2 -> P 1 R 1/2; d: unused
    f1 = {"a": 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), "b": 2 * (2 / 3) / (2 / 3 + 1), "c": 2 * 0.5 / 1.5}
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)  # d appears nowhere: not averaged in
    assert m["uar"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert m["per_class"]["a"] == pytest.approx({"precision": 2 / 3, "recall": 0.5, "f1": f1["a"], "support": 4})
    assert m["per_class"]["d"]["support"] == 0


def test_equal_to_scikit_learn():
    m = classification_metrics(GOLD, PRED, LABELS)
    encoded = [UNPARSED if p is None else p for p in PRED]
    assert m["macro_f1"] == pytest.approx(f1_score(GOLD, encoded, labels=["a", "b", "c"], average="macro"))
    # UAR is scikit-learn's balanced accuracy restricted to the gold classes
    assert m["uar"] == pytest.approx(balanced_accuracy_score(GOLD, encoded))
    _, _, f, _ = precision_recall_fscore_support(GOLD, encoded, labels=LABELS, zero_division=0)
    assert [m["per_class"][k]["f1"] for k in LABELS] == pytest.approx(list(f))
    expected = confusion_matrix(GOLD, encoded, labels=[*LABELS, UNPARSED])[:4].tolist()
    assert m["confusion"]["matrix"] == expected
    assert m["confusion"]["matrix"][2] == [1, 0, 2, 0, 1]  # gold c: one a, two c, one unparsed
    assert sum(map(sum, m["confusion"]["matrix"])) == 10


def test_mcnemar_exact_known_values():
    from scipy.stats import binomtest

    # 9 samples only the first model gets right, 1 only the second: p = 2 * P(X <= 1), X ~ Bin(10, 1/2)
    first = [1] * 9 + [0] + [1] * 5 + [0] * 3
    second = [0] * 9 + [1] + [1] * 5 + [0] * 3
    result = mcnemar_exact(first, second)
    assert result["table"] == [[5, 9], [1, 3]]
    assert result["p_value"] == pytest.approx(2 * 11 / 1024)
    assert result["p_value"] == pytest.approx(binomtest(1, 10, 0.5).pvalue)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1])["p_value"] == 1.0  # no discordant pairs
    balanced = mcnemar_exact([1, 0] * 4, [0, 1] * 4)
    assert balanced["p_value"] == 1.0 and balanced["table"] == [[0, 4], [4, 0]]
    with pytest.raises(ValueError):
        mcnemar_exact([1], [1, 0])


def test_bootstrap_is_deterministic_per_seed_and_near_the_normal_interval():
    rng = np.random.default_rng(3)
    correct = rng.random(2000) < 0.7
    first, again, other = bootstrap_ci(correct, seed=0), bootstrap_ci(correct, seed=0), bootstrap_ci(correct, seed=1)
    assert first == again and first != other
    p = correct.mean()
    half = 1.959964 * math.sqrt(p * (1 - p) / correct.size)  # Wald interval: the bootstrap's large-n limit
    assert first[0] == pytest.approx(p - half, abs=0.006) and first[1] == pytest.approx(p + half, abs=0.006)
    assert first[0] < p < first[1]


def test_bootstrap_equals_scipy_percentile_with_the_same_generator():
    from scipy.stats import bootstrap

    values = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 3, dtype=float)
    expected = bootstrap((values,), np.mean, n_resamples=2000, method="percentile",
                         rng=np.random.default_rng(5)).confidence_interval
    assert bootstrap_ci(values, seed=5) == pytest.approx((expected.low, expected.high))


def test_bootstrap_of_constant_results_is_a_point():
    assert bootstrap_ci([1, 1, 1, 1]) == (1.0, 1.0)
    assert bootstrap_ci([0]) == (0.0, 0.0)


def test_variant_agreement_and_fleiss_kappa():
    from statsmodels.stats.inter_rater import fleiss_kappa

    answers = {"i1": {"x": "a", "y": "a"}, "i2": {"x": "a", "y": "b"}, "i3": {"x": None, "y": None},
               "i4": {"x": "b", "y": "b"}, "partial": {"x": "a"}}
    result = variant_agreement(answers)
    assert result["images"] == 4 and result["variants"] == ["x", "y"]
    assert result["agreement"] == 0.5  # i1 and i4; i3 agrees only on failing
    # categories (unparsed, a, b): counts per image
    table = np.array([[0, 2, 0], [0, 1, 1], [2, 0, 0], [0, 0, 2]])
    assert result["fleiss_kappa"] == pytest.approx(fleiss_kappa(table))
    # by hand: P_i = (1, 0, 1, 1) -> mean 0.75; p_j = (2, 3, 3)/8 -> Pe = (4 + 9 + 9)/64
    assert result["fleiss_kappa"] == pytest.approx((0.75 - 22 / 64) / (1 - 22 / 64))
