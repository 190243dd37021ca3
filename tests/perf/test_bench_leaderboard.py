"""``emovit bench leaderboard`` over 50 runs of 10,000 samples each (500,000 prediction lines).

Target: the whole command (read and validate every line, read every generated answer again with our parser,
figures with 2,000-resample bootstrap CIs, pairwise exact McNemar, the tied groups with Holm's correction and
the minimum detectable difference, calibration (ECE, Brier, NLL with bootstrap CIs) of every ranked run, answer
health, the in- vs out-of-domain summary, the JSON/CSV/Markdown tables, the PNG plots with a reliability diagram
per ranked run, and ``index.html``) finishes in under 30 s. Two layouts: 10 models x 5 tasks, and 50 models on one task (the
worst case for pairwise tests and per-model plots). Half the models are ranked (per-label scores), half
generated (answer text, 2% unreadable). Run with
``pytest tests/perf/test_bench_leaderboard.py --benchmark-enable -s``; ``EMOVIT_BENCH_SCALE`` scales the
samples per run.
"""

from __future__ import annotations

import json

import pytest

from tests.support.scale import scaled

TARGET_S = 30.0


@pytest.fixture(scope="module", params=[(10, 5), (50, 1)], ids=["10-models-x-5-tasks", "50-models-x-1-task"])
def runs(request, tmp_path_factory):
    from tests.support.runs import synthetic_runs

    models, tasks = request.param
    root = tmp_path_factory.mktemp("bench-leaderboard") / "runs"
    synthetic_runs(root, models=models, tasks=tasks, samples=scaled(10_000), seed=0)
    return root, models, tasks


def test_leaderboard_50_runs(benchmark, runs, tmp_path):
    from builder.cli import main

    root, models, tasks = runs
    outs = iter(range(100))

    def rebuild():
        out = tmp_path / f"board-{next(outs)}"
        assert main(["bench", "leaderboard", "--runs", str(root), "--out", str(out)]) == 0
        return out

    out = benchmark.pedantic(rebuild, rounds=2, iterations=1)
    rows = json.loads((out / "leaderboard.json").read_text())
    assert len(rows) == models * tasks == 50 and {row["n"] for row in rows} == {scaled(10_000)}
    assert (out / "index.html").stat().st_size > 0 and len(list((out / "plots").glob("confusion-*.png"))) == 50
    ranked = [row for row in rows if row["mode"] == "rank"]
    assert len(ranked) == 25 and all(row["ece"] is not None and row["calibration_n"] == row["n"] for row in ranked)
    assert len(list((out / "plots").glob("reliability-*.png"))) == 25
    assert all(row["tv_distance"] is not None and row["rank"] >= 1 for row in rows)
    document = json.loads((out / "leaderboard_tasks.json").read_text())
    assert len(document["tasks"]) == tasks and all("mdd" in t["ties"] for t in document["tasks"].values())
    mean = benchmark.stats.stats.mean
    lines = models * tasks * scaled(10_000)
    benchmark.extra_info.update({"runs": models * tasks, "lines": lines, "seconds": round(mean, 2)})
    print(f"\nbench leaderboard, {models} models x {tasks} task(s), {lines:,} lines: {mean:.1f} s mean "
          f"(min {benchmark.stats.stats.min:.1f} s; target < {TARGET_S:.0f} s)")
    if scaled(10_000) == 10_000:
        assert mean < TARGET_S
