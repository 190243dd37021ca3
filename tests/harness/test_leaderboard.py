"""The leaderboard from prediction files alone (as another tool would write them), checked independently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.board.leaderboard import write_leaderboard
from benchmarks.board.runs import collect_runs
from schemas.errors import UsageError
from schemas.predictions import validate_leaderboard_rows

LABELS = ["amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness"]


def _predictions(folder: Path, model: str, task: str, gold: list[str], pred: list[str | None], *, ids=None,
                 mode: str = "rank", config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = ids or [f"img{i:03d}" for i in range(len(gold))]
    lines = []
    for sample, g, p in zip(ids, gold, pred):
        if mode == "rank":
            scores = {label: (0.0 if label == p else -1.0) for label in LABELS}
            row = {"id": sample, "image_id": sample, "model": model, "task": task, "gold": g, "pred": p, "raw": None,
                   "scores": scores}
        else:
            row = {"id": sample, "image_id": sample, "model": model, "task": task, "gold": g, "pred": p,
                   "raw": f"Predict emotion: {p}" if p else "no idea", "scores": None}
        lines.append(json.dumps(row))
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def _case():
    gold = [LABELS[i % 8] for i in range(40)]
    strong = [g if i % 5 else LABELS[(i + 1) % 8] for i, g in enumerate(gold)]         # 32 / 40 right
    weak = [g if i % 4 == 0 else None if i % 4 == 1 else LABELS[(i + 3) % 8] for i, g in enumerate(gold)]
    return gold, strong, weak


def test_figures_equal_independent_computations(tmp_path):
    from scipy.stats import binomtest
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    gold, strong, weak = _case()
    _predictions(tmp_path / "a", "strong", "emoset8", gold, strong)
    _predictions(tmp_path / "b", "weak", "emoset8", gold, weak, mode="generate")
    (tmp_path / "a" / "metrics.json").write_text(json.dumps({"accuracy": 0.99}))  # never read
    rows = write_leaderboard([tmp_path], tmp_path / "board", plots=False)
    by_model = {row["model"]: row for row in rows}
    assert [row["model"] for row in rows] == ["strong", "weak"] and [row["rank"] for row in rows] == [1, 2]
    for name, pred in (("strong", strong), ("weak", weak)):
        encoded = [p or "?" for p in pred]
        row = by_model[name]
        assert row["n"] == 40
        assert row["accuracy"] == pytest.approx(accuracy_score(gold, encoded))
        used = [label for label in LABELS if label in set(gold) | set(encoded)]
        assert row["macro_f1"] == pytest.approx(f1_score(gold, encoded, labels=used, average="macro"))
        assert row["uar"] == pytest.approx(recall_score(gold, encoded, labels=LABELS, average="macro"))
    assert by_model["strong"]["accuracy"] == 0.8 and by_model["weak"]["accuracy"] == 0.25
    assert by_model["weak"]["parse_failure_rate"] == 0.25 and by_model["strong"]["parse_failure_rate"] == 0.0
    assert by_model["weak"]["mode"] == "generate" and by_model["strong"]["mode"] == "rank"
    assert by_model["weak"]["parse_rules"] == {"exact": 30, "single_label": 0, "failure": 10, "unclosed_reasoning": 0}
    right_a = [s == g for s, g in zip(strong, gold)]
    right_b = [w == g for w, g in zip(weak, gold)]
    only_a = sum(a and not b for a, b in zip(right_a, right_b))
    only_b = sum(b and not a for a, b in zip(right_a, right_b))
    expected = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert by_model["strong"]["mcnemar"] == {"weak": pytest.approx(expected)}
    assert by_model["weak"]["mcnemar"] == {"strong": pytest.approx(expected)}
    low, high = by_model["strong"]["accuracy_ci"]
    assert 0.6 < low < 0.8 < high < 0.95
    markdown = (tmp_path / "board" / "leaderboard.md").read_text().splitlines()
    low, high = by_model["weak"]["accuracy_ci"]
    line = next(line for line in markdown if line.startswith("| 2 "))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    shown = "<0.0001" if expected < 1e-4 else f"{expected:.4f}"
    # one comparison with the best: Holm's correction leaves its p as it is
    assert cells == ["2", "weak", "generate", "40", f"0.250 [{low:.3f}, {high:.3f}]", "no", "0.250", "0.250",
                     "0.250", f"{shown} (Holm {shown}) *"]
    csv = (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("task,rank,model,mode,n,accuracy,accuracy_ci_low,accuracy_ci_high,tied_with_best,p_vs_best,"
                             "p_vs_best_holm,macro_f1,uar")
    assert len(csv) == 3
    assert json.loads((tmp_path / "board" / "leaderboard.json").read_text()) == json.loads(json.dumps(rows))


def test_mcnemar_uses_only_the_ids_both_models_scored(tmp_path):
    gold, strong, weak = _case()
    _predictions(tmp_path / "a", "strong", "emoset8", gold, strong)
    _predictions(tmp_path / "b", "partial", "emoset8", gold[:20], weak[:20])
    rows = {row["model"]: row for row in write_leaderboard([tmp_path], tmp_path / "board", plots=False)}
    assert rows["strong"]["mcnemar_detail"]["partial"]["n"] == 20
    assert rows["partial"]["n"] == 20 and rows["strong"]["n"] == 40


def test_plots_are_written_including_the_scaling_curve(tmp_path):
    gold, strong, weak = _case()
    for fraction, pred in ((0.25, weak), (1.0, strong)):
        _predictions(tmp_path / f"f{fraction}", f"emovit-{fraction}", "emoset8", gold, pred,
                     config={"task": {"labels": LABELS}, "model": {"series": "emovit", "adapter": "emovit"},
                             "training": {"config": {"train_fraction": fraction}}})
    write_leaderboard([tmp_path], tmp_path / "board")
    names = sorted(p.name for p in (tmp_path / "board" / "plots").glob("*.png"))
    assert names == ["accuracy-emoset8.png", "confusion-emoset8-emovit-0.25.png", "confusion-emoset8-emovit-1.0.png",
                     "f1-emoset8.png", "reliability-emoset8-emovit-0.25.png", "reliability-emoset8-emovit-1.0.png",
                     "scaling-emoset8.png"]
    assert all((tmp_path / "board" / "plots" / n).stat().st_size > 5000 for n in names)
    assert "![scaling-emoset8](plots/scaling-emoset8.png)" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_refusals(tmp_path):
    gold, strong, _ = _case()
    bad = _predictions(tmp_path / "bad", "m", "emoset8", gold[:3], strong[:3])
    with open(bad / "predictions.jsonl", "a") as handle:
        handle.write('{"id": "x"}\n')
    with pytest.raises(UsageError, match=r"bad/predictions.jsonl:4: a line needs id, gold and pred \(or raw\)"):
        collect_runs([bad])
    _predictions(tmp_path / "one", "m", "emoset8", gold, strong)
    _predictions(tmp_path / "two", "m", "emoset8", gold, strong)
    with pytest.raises(UsageError, match="m on emoset8 appears in"):
        collect_runs([tmp_path / "one", tmp_path / "two"])
    _predictions(tmp_path / "v1", "a", "emoset8", gold, strong, config={"task_hash": "1" * 64})
    _predictions(tmp_path / "v2", "b", "emoset8", gold, strong, config={"task_hash": "2" * 64})
    with pytest.raises(UsageError, match="task emoset8 was scored from different task files"):
        collect_runs([tmp_path / "v1", tmp_path / "v2"])
    with pytest.raises(UsageError, match="no such run directory"):
        collect_runs([tmp_path / "missing"])


def test_the_row_schema_rejects_inconsistent_rows():
    good = {"model": "m", "task": "t", "n": 10, "accuracy": 0.5, "accuracy_ci": [0.2, 0.8], "macro_f1": 0.4,
            "uar": 0.5, "parse_failure_rate": 0.0, "mcnemar": {"o": 0.03}}
    validate_leaderboard_rows([good])
    validate_leaderboard_rows([{**good, "rank": 2, "tied_with_best": False, "p_vs_best": 0.01, "ece": 0.1,
                                "ece_ci": [0.05, 0.2], "brier": 1.3, "nll": 2.5, "top_label_flag": True}])
    for change, check in (({"accuracy_ci": [0.6, 0.8]}, "accuracy_inside_its_ci"),
                          ({"mcnemar": {"o": 1.5}}, "mcnemar_maps_models_to_p_values"),
                          ({"accuracy_ci": [0.8, 0.2]}, "ci_is_low_high"),
                          ({"n": 0}, "greater_than_or_equal_to"),
                          ({"rank": 0}, "none_or_count_at_least_one"),
                          ({"tied_with_best": "yes"}, "none_or_boolean"),
                          ({"p_vs_best_holm": 1.2}, "none_or_in_unit_interval"),
                          ({"brier": 2.5}, "none_or_brier_in_0_2"),
                          ({"nll": -0.5}, "none_or_finite_non_negative"),
                          ({"nll": float("nan")}, "figures_are_null_never_nan"),
                          ({"ece_ci": [0.3, 0.1]}, "none_or_low_high_pair")):
        with pytest.raises(ValueError, match=check):
            validate_leaderboard_rows([{**good, **change}])
    with pytest.raises(ValueError, match="one_row_per_model_and_task"):
        validate_leaderboard_rows([good, good])
