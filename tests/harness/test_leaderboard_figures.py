"""The leaderboard's figures beyond accuracy, each against numbers worked out by hand in the test: the tied
group (exact McNemar against the leader, Holm), ranks, the minimum detectable difference, ECE, Brier, NLL, the
top-label share and its flag, the TV distance, and the in- vs out-of-domain summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.runs import LABELS, prediction_line, write_run

#: Normal quantiles z_0.975 and z_0.80 from a printed table.
Z975, Z80 = 1.959963984540054, 0.8416212335729143


def _right_on(indices, n: int = 20) -> list[bool]:
    return [i in indices for i in range(n)]


def _board(tmp_path, correct: dict[str, list[bool]], task: str = "emoset8", **options):
    from benchmarks.board.leaderboard import write_leaderboard

    gold = [LABELS[i % 8] for i in range(20)]
    for model, right in correct.items():
        lines = [prediction_line(f"s{i}", model, task, g, g if ok else LABELS[(i + 1) % 8], mode="generate")
                 for i, (g, ok) in enumerate(zip(gold, right))]
        write_run(tmp_path / "runs" / model / task, lines, {"task": {"name": task, "labels": list(LABELS)}})
    rows = write_leaderboard([tmp_path / "runs"], tmp_path / "board", plots=False, **options)
    tasks = json.loads((tmp_path / "board" / "leaderboard_tasks.json").read_text())
    return {row["model"]: row for row in rows}, tasks


def test_tied_group_holm_and_ranks_by_hand(tmp_path):
    # A right on 0..15; B on 10..15; C on 6..16; D on 15 only (n = 20).
    # Discordant pairs and exact two-sided binomial p = 2 * P(X <= min) with X ~ Bin(m, 1/2):
    #   A-B: 10 vs 0 -> 2/2^10;  A-C: 6 vs 1 -> 2 * (1 + 7)/2^7 = 0.125
    #   A-D: 15 vs 0 -> 2/2^15;  C-D: 10 vs 0 -> 2/2^10;  B-C: 0 vs 5 -> 2/2^5;  B-D: 5 vs 0 -> 2/2^5
    rows, tasks = _board(tmp_path, {"A": _right_on(range(16)), "B": _right_on(range(10, 16)),
                                    "C": _right_on(range(6, 17)), "D": _right_on({15})})
    p_ab, p_ac, p_ad = 2 / 2 ** 10, 0.125, 2 / 2 ** 15
    # Holm over the 3 comparisons with the leader A, sorted AD < AB < AC:
    #   AD*3 = 1.83e-4 (reject), AB*2 = 0.0039 (reject), AC*1 = 0.125 (keep) -> tied with the best: A, C
    ties = tasks["tasks"]["emoset8"]["ties"]
    assert ties["leader"] == "A" and ties["tied_with_best"] == ["A", "C"]
    assert ties["comparisons"]["B"]["p_value"] == pytest.approx(p_ab)
    assert ties["comparisons"]["B"]["p_holm"] == pytest.approx(2 * p_ab)
    assert ties["comparisons"]["C"]["p_value"] == pytest.approx(p_ac) and ties["comparisons"]["C"]["p_holm"] == pytest.approx(0.125)
    assert ties["comparisons"]["D"]["p_holm"] == pytest.approx(3 * p_ad)
    assert [rows[m]["tied_with_best"] for m in "ABCD"] == [True, False, True, False]
    assert rows["B"]["p_vs_best"] == pytest.approx(p_ab) and rows["A"]["p_vs_best"] is None
    # Holm over all 6 pairs, sorted AD, AB, CD, BC, BD, AC:
    #   AD*6 = 3.7e-4, AB*5 = 0.0098, CD*4 = 0.0078 (rejected), BC*3 = 0.1875 (kept; Holm stops here)
    # -> better than B: A; better than D: A and C; ranks A 1, C 1, B 2, D 3
    assert {m: rows[m]["rank"] for m in "ABCD"} == {"A": 1, "C": 1, "B": 2, "D": 3}
    assert rows["D"]["significantly_better"] == ["A", "C"] and rows["B"]["significantly_better"] == ["A"]
    # the minimum detectable difference at the leader's accuracy p = 16/20 and n = 20
    mdd = tasks["tasks"]["emoset8"]["ties"]["mdd"]
    assert mdd["n"] == 20 and mdd["p"] == 0.8
    assert mdd["value"] == pytest.approx((Z975 + Z80) * math.sqrt(2 * 0.8 * 0.2 / 20), rel=1e-9)
    assert mdd["value"] == pytest.approx(0.354375, abs=1e-6)
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "Tied with the best (A; exact McNemar against it, Holm over the 3 comparison(s), alpha 0.05): **A, C**" \
        in markdown and "Minimum detectable difference at n = 20: 0.354" in markdown


def test_two_equal_models_are_both_rank_one(tmp_path):
    rows, tasks = _board(tmp_path, {"X": _right_on(range(10)), "Y": _right_on(range(5, 15))})
    # 5 discordant each way: p = 1; both tied, both rank 1
    assert rows["X"]["rank"] == rows["Y"]["rank"] == 1
    assert tasks["tasks"]["emoset8"]["ties"]["tied_with_best"] == ["X", "Y"]


def _scored(p: tuple[float, ...], gold: str, shift: float = 0.0) -> dict:
    return {"gold": gold, "pred": None, "scores": {k: math.log(v) + shift for k, v in zip("abc", p)}}


def test_ece_brier_and_nll_by_hand():
    from benchmarks.score.calibration import calibration

    rows = [_scored((0.7, 0.2, 0.1), "a"),             # right, confidence 0.70 (bin 10 of (10/15, 11/15])
            _scored((0.5, 0.25, 0.25), "b", 3.0),      # wrong, 0.50 (bin 7); shifted scores: same softmax
            _scored((0.05, 0.1, 0.85), "c"),           # right, 0.85 (bin 12)
            _scored((0.72, 0.18, 0.1), "b", -2.0)]     # wrong, 0.72 (bin 10)
    found = calibration(rows, ["a", "b", "c"])
    # ECE: bin 10 holds 2 rows, accuracy 1/2, mean confidence 0.71 -> 2/4 * 0.21; bin 7: 1/4 * 0.5;
    # bin 12: 1/4 * 0.15
    assert found["ece"] == pytest.approx(0.5 * 0.21 + 0.25 * 0.5 + 0.25 * 0.15) == pytest.approx(0.2675)
    # Brier: (0.09+0.04+0.01) + (0.25+0.5625+0.0625) + (0.0025+0.01+0.0225) + (0.5184+0.6724+0.01), over 4
    assert found["brier"] == pytest.approx((0.14 + 0.875 + 0.035 + 1.2008) / 4)
    assert found["nll"] == pytest.approx(-(math.log(0.7) + math.log(0.25) + math.log(0.85) + math.log(0.18)) / 4)
    assert found["calibration_n"] == 4 and found["calibration_skipped"] == 0
    bins = found["reliability"]
    assert bins["counts"][10] == 2 and bins["counts"][7] == 1 and bins["counts"][12] == 1 and sum(bins["counts"]) == 4
    assert bins["accuracy"][10] == 0.5 and bins["confidence"][10] == pytest.approx(0.71) and bins["accuracy"][0] is None
    for key in ("ece", "brier", "nll"):
        low, high = found[f"{key}_ci"]
        assert low <= high and (low <= found[key] <= high or key == "ece")


def test_runs_without_scores_have_no_calibration(tmp_path):
    from benchmarks.score.calibration import calibration

    found = calibration([{"gold": "a", "pred": "a", "scores": None}], ["a", "b"])
    assert found["ece"] is None and found["brier"] is None and found["nll"] is None and found["calibration_n"] is None
    rows, _ = _board(tmp_path, {"X": _right_on(range(10))})
    assert rows["X"]["ece"] is None and rows["X"]["ece_ci"] is None
    text = json.dumps(json.loads((tmp_path / "board" / "leaderboard.json").read_text()))
    assert "NaN" not in text and '"ece": null' in text
    csv = (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()
    header, line = csv[0].split(","), csv[1].split(",")
    assert line[header.index("ece")] == ""


def test_top_label_share_flag_and_tv_distance_by_hand():
    from benchmarks.score.health import answer_health

    labels = ["a", "b", "c"]
    # readable answers a, a, a (one unreadable): share 3/3, flagged; q_pred (1,0,0), q_gold (1/2, 1/4, 1/4):
    # TV = 1/2 (1/2 + 1/4 + 1/4) = 1/2
    found = answer_health(["a", "a", "b", "c"], ["a", "a", "a", None], labels)
    assert found["answered"] == 3 and found["top_label"] == "a" and found["top_label_share"] == 1.0
    assert found["top_label_flag"] is True and found["tv_distance"] == pytest.approx(0.5)
    # four labels, answers spread evenly: share 1/4, not flagged; TV = 1/2 (1/4 + 0 + 0 + 1/4) = 1/4
    found = answer_health(["a", "a", "b", "c"], ["a", "b", "c", "d"], labels + ["d"])
    assert found["top_label_share"] == 0.25 and found["top_label_flag"] is False
    assert found["tv_distance"] == pytest.approx(0.25)
    # exactly half is flagged
    assert answer_health(["a", "b", "c", "c"], ["b", "b", "c", "a"], labels)["top_label_flag"] is True
    # two labels: one always holds half; no flag
    assert answer_health(["a", "b"], ["a", "a"], ["a", "b"])["top_label_flag"] is None
    # the interval: a bootstrap over the samples, drawn as multinomial pair counts; against resampling the rows
    # themselves (a NumPy generator of its own) the percentiles agree to sampling error
    rng = np.random.default_rng(7)
    gold = [labels[i % 3] for i in range(300)]
    pred = [("a" if rng.random() < 0.5 else labels[i % 3]) if i % 10 else None for i in range(300)]
    found = answer_health(gold, pred, labels, seed=1)
    shares = []
    for _ in range(2000):
        picked = rng.integers(0, 300, 300)
        answers = [pred[i] for i in picked if pred[i] is not None]
        shares.append(max(answers.count(x) for x in labels) / len(answers))
    low, high = np.percentile(shares, [2.5, 97.5])
    assert found["top_label_share_ci"] == pytest.approx([low, high], abs=0.015)
    assert found["top_label_share_ci"][0] < found["top_label_share"] < found["top_label_share_ci"][1]
    nothing = answer_health(["a"], [None], labels)
    assert nothing["answered"] == 0 and nothing["top_label_share"] is None and nothing["tv_distance"] is None


def test_in_and_out_of_domain_means_and_drops_by_hand():
    from benchmarks.score.domains import domain_summary

    def row(task, accuracy, n):
        return {"model": "m", "task": task, "accuracy": accuracy, "n": n, "accuracy_ci": [0.0, 1.0]}

    found = domain_summary([row("emoset8", 0.8, 100), row("t1", 0.5, 50), row("t2", 0.7, 150)],
                           ["emoset8"], ["t1", "t2"], {"t2": 3})
    entry = found["models"]["m"]
    assert entry["ood_mean"] == pytest.approx(0.6) and entry["ood_weighted_mean"] == pytest.approx(0.65)
    assert entry["drop"] == pytest.approx(0.2) and entry["drop_weighted"] == pytest.approx(0.15)
    # SE of the unweighted mean: sqrt(0.25/50 + 0.21/150) / 2 = 0.04; of the drop: sqrt(0.16/100 + 0.04^2)
    assert entry["ood_mean_ci"] == pytest.approx([0.6 - Z975 * 0.04, 0.6 + Z975 * 0.04])
    se = math.sqrt(0.0016 + 0.0016)
    assert entry["drop_ci"] == pytest.approx([0.2 - Z975 * se, 0.2 + Z975 * se])
    # SE of the n-weighted mean: sqrt(50*0.25 + 150*0.21) / 200
    se = math.sqrt(44) / 200
    assert entry["ood_weighted_mean_ci"] == pytest.approx([0.65 - Z975 * se, 0.65 + Z975 * se])
    assert entry["ood_tasks"] == 2 and entry["ood_n"] == 200 and found["leaked"] == {"t2": 3}


def test_held_out_tasks_and_the_in_domain_option(tmp_path):
    from builder.cli import main

    gold = [LABELS[i % 8] for i in range(20)]
    for task, right in (("emoset8", 15), ("fi8", 10), ("webemo7", 5)):
        lines = [prediction_line(f"s{i}", "m", task, g, g if i < right else LABELS[(i + 1) % 8], mode="generate")
                 for i, g in enumerate(gold)]
        config = {"task": {"name": task, "labels": list(LABELS)}}
        if task == "fi8":
            config["leakage"] = {"count": 2}
        write_run(tmp_path / "runs" / task, lines, config)
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "b"),
                 "--no-plots"]) == 0
    domains = json.loads((tmp_path / "b" / "leaderboard_tasks.json").read_text())["domains"]
    assert domains["in_domain"] == ["emoset8"] and sorted(domains["out_of_domain"]) == ["fi8", "webemo7"]
    assert domains["leaked"] == {"fi8": 2}
    entry = domains["models"]["m"]
    assert entry["ood_mean"] == pytest.approx((0.5 + 0.25) / 2) and entry["drop"] == pytest.approx(0.75 - 0.375)
    assert "## In-domain vs out-of-domain" in (tmp_path / "b" / "leaderboard.md").read_text()
    # fi8 counted as in-domain instead: emoset8 is then neither (not held out), webemo7 out-of-domain
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "c"),
                 "--no-plots", "--in-domain", "fi8"]) == 0
    domains = json.loads((tmp_path / "c" / "leaderboard_tasks.json").read_text())["domains"]
    assert domains["in_domain"] == ["fi8"] and domains["out_of_domain"] == ["webemo7"]
    assert domains["models"]["m"]["drop"] == pytest.approx(0.5 - 0.25)
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "d"),
                 "--in-domain", " , "]) == 2


def test_a_run_without_scores_shows_a_dash_beside_a_scored_one(tmp_path):
    from benchmarks.board.leaderboard import write_leaderboard

    gold = [LABELS[i % 8] for i in range(16)]
    for model, mode in (("ranked", "rank"), ("generated", "generate")):
        write_run(tmp_path / "runs" / model / "emoset8", [prediction_line(f"s{i}", model, "emoset8", g, g, mode=mode)
                                                          for i, g in enumerate(gold)])
    rows = {row["model"]: row for row in write_leaderboard([tmp_path / "runs"], tmp_path / "b", plots=False)}
    # every answer right with probability 1 / (1 + 7/e) on it: ECE = 1 - that, NLL = -ln of it
    top = 1 / (1 + 7 / math.e)
    assert rows["ranked"]["ece"] == pytest.approx(1 - top) and rows["ranked"]["nll"] == pytest.approx(-math.log(top))
    lines = (tmp_path / "b" / "leaderboard.md").read_text().splitlines()
    generated = next(line for line in lines if line.startswith("| generated ") and line.count("|") == 6)
    assert [cell.strip() for cell in generated.strip("|").split("|")] == ["generated", "–", "–", "–", "–"]


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40),
       st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_equals_statsmodels(p_values, alpha):
    from statsmodels.stats.multitest import multipletests

    from benchmarks.score.ties import holm

    reject, adjusted = holm(p_values, alpha)
    expected_reject, expected_adjusted, _, _ = multipletests(p_values, alpha=alpha, method="holm")
    assert reject == [bool(r) for r in expected_reject]
    assert adjusted == pytest.approx([min(1.0, float(a)) for a in expected_adjusted], abs=1e-12)
