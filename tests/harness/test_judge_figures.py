"""Each judge's consistent share and Cohen's kappa between two judges, against hand computations."""

from __future__ import annotations

import json
import math
import re

import pytest

from benchmarks.score.judges import cohen_kappa, consistent_share, judge_row_keys, judges_section, run_judges

Z = 1.959963984540054  # the 0.975 quantile of the standard normal


def _wilson(k: int, n: int) -> list[float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return [centre - half, centre + half]


def _rows(judge: str | None, verdicts: dict[str, str | None]) -> list[dict]:
    return [{"id": i, **({"judge": judge} if judge else {}), "verdict": v, "raw": None} for i, v in verdicts.items()]


C, I = "consistent", "inconsistent"
# Answers 1-10 graded by both; 11 only by A (B's reply was unusable); 12 had no answer to grade.
A = {"1": C, "2": C, "3": C, "4": C, "5": C, "6": C, "7": I, "8": I, "9": I, "10": I, "11": C, "12": None}
B = {"1": C, "2": C, "3": C, "4": C, "5": I, "6": I, "7": C, "8": I, "9": I, "10": I, "11": None, "12": None}


def test_consistent_share_and_its_wilson_interval_by_hand():
    # A: 7 of the 11 answers it graded are consistent; B: 5 of 10.
    a = consistent_share(A)
    assert (a["answers"], a["n"], a["consistent"]) == (12, 11, 7)
    assert a["share"] == pytest.approx(7 / 11)
    assert a["ci"] == pytest.approx(_wilson(7, 11))
    assert a["ci"] == pytest.approx([0.3538, 0.8483], abs=5e-4)  # worked out by hand: centre .6011, half-width .2473
    b = consistent_share(B)
    assert (b["n"], b["share"]) == (10, 0.5) and b["ci"] == pytest.approx(_wilson(5, 10))
    empty = consistent_share({"1": None})
    assert (empty["n"], empty["share"], empty["ci"]) == (0, None, None)


def test_cohen_kappa_of_two_judges_by_hand():
    # Over answers 1-10 (both graded): both consistent 1-4 (a = 4), A only 5, 6 (b = 2), B only 7 (c = 1),
    # both inconsistent 8-10 (d = 3). p_o = 7/10; A's share 6/10, B's 5/10, so p_e = .6 * .5 + .4 * .5 = .5;
    # kappa = (.7 - .5) / (1 - .5) = .4.
    k = cohen_kappa(A, B)
    assert k["n"] == 10 and k["table"] == [[4, 2], [1, 3]]
    assert k["observed"] == pytest.approx(0.7) and k["expected"] == pytest.approx(0.5)
    assert k["kappa"] == pytest.approx(0.4)
    assert cohen_kappa(B, A)["kappa"] == pytest.approx(0.4)  # symmetric
    # Perfect disagreement on a balanced table: p_o = 0, p_e = .5, kappa = -1.
    assert cohen_kappa({"1": C, "2": I}, {"1": I, "2": C})["kappa"] == pytest.approx(-1.0)


def test_kappa_is_null_when_chance_agreement_is_certain_or_nothing_was_graded_twice():
    # Both judges call every answer consistent: p_o = 1 and p_e = 1 * 1 + 0 * 0 = 1, so kappa = 0/0: null.
    same = cohen_kappa({"1": C, "2": C}, {"1": C, "2": C})
    assert (same["n"], same["observed"], same["expected"], same["kappa"]) == (2, 1.0, 1.0, None)
    assert cohen_kappa({"1": I}, {"1": I})["kappa"] is None
    nothing = cohen_kappa({"1": C}, {"1": None, "2": C})
    assert (nothing["n"], nothing["kappa"], nothing["table"]) == (0, None, [[0, 0], [0, 0]])


def test_row_keys_and_the_task_section_are_plain_json():
    rows = _rows("strict", A) + _rows("lenient", B)
    keys = judge_row_keys(rows)
    assert keys == {
        "judge_1_name": "strict", "judge_1_consistent_share": pytest.approx(7 / 11), "judge_1_n": 11,
        "judge_1_ci": pytest.approx(_wilson(7, 11)),
        "judge_2_name": "lenient", "judge_2_consistent_share": 0.5, "judge_2_n": 10,
        "judge_2_ci": pytest.approx(_wilson(5, 10)),
        "judge_kappa": pytest.approx(0.4), "judge_kappa_n": 10}
    # A file written before judges had names: one judge, no kappa.
    assert judge_row_keys(_rows(None, A))["judge_1_name"] == "judge"
    assert "judge_kappa" not in judge_row_keys(_rows(None, A))
    assert judge_row_keys([]) == {}

    section = judges_section({"emovit": rows, "llava": _rows("strict", {"1": C, "2": C}) + _rows("lenient", {"1": C, "2": C}),
                              "clip": []})
    assert section["judges"] == ["strict", "lenient"]
    assert sorted(section["models"]) == ["emovit", "llava"]
    assert section["models"]["emovit"] == run_judges(rows)
    (pair,) = section["models"]["emovit"]["agreement"]
    assert pair["judges"] == ["strict", "lenient"] and pair["kappa"] == pytest.approx(0.4)
    assert section["models"]["llava"]["agreement"][0]["kappa"] is None
    json.dumps(section, allow_nan=False)  # None, never NaN
    assert judges_section({"clip": []}) is None


def test_the_board_carries_both_judges_kappa_and_the_first_judges_share(tmp_path):
    # A run of 12 reasoning answers graded by judges "a" (A above) and "b" (B above): the board's row holds
    # judge "a"'s figure as ``judge`` (12 answers, 11 graded, 7 consistent) and both judges' keys, the task's
    # section holds kappa .4 over 10 answers, and leaderboard.md and index.html show it.
    from benchmarks.board.leaderboard import write_leaderboard

    run = tmp_path / "runs" / "m" / "reasoning"
    run.mkdir(parents=True)
    labels = ["amusement", "sadness"]
    (run / "predictions.jsonl").write_text("".join(
        json.dumps({"id": str(i), "model": "m", "task": "reasoning", "gold": "amusement", "pred": "amusement",
                    "raw": "Predict emotion: amusement", "labels": labels}) + "\n" for i in range(1, 13)),
        encoding="utf-8")
    (run / "judge.jsonl").write_text("".join(json.dumps(row) + "\n" for row in _rows("a", A) + _rows("b", B)),
                                     encoding="utf-8")
    rows = write_leaderboard([tmp_path / "runs"], tmp_path / "board", plots=False)
    (row,) = rows
    assert row["judge"] == {"n": 12, "judged": 11, "consistent_rate": pytest.approx(7 / 11)}
    assert (row["judge_1_name"], row["judge_1_n"], row["judge_2_name"], row["judge_2_n"]) == ("a", 11, "b", 10)
    assert row["judge_2_consistent_share"] == 0.5
    assert row["judge_kappa"] == pytest.approx(0.4) and row["judge_kappa_n"] == 10
    section = json.loads((tmp_path / "board" / "leaderboard_tasks.json").read_text())["tasks"]["reasoning"]["judges"]
    assert section["judges"] == ["a", "b"]
    assert section["models"]["m"]["agreement"][0]["kappa"] == pytest.approx(0.4)
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "| m       | 0.636 [0.354, 0.848] | 0.500 [0.237, 0.763] | 0.400 (n 10)    |" in markdown
    page = (tmp_path / "board" / "index.html").read_text()
    (kappa,) = re.findall(r'data-key="kappa" data-model="m" data-value="([^"]+)"', page)
    assert float(kappa) == pytest.approx(0.4)
