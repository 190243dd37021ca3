"""``index.html`` in real headless Chromium shows the tied groups, the minimum detectable difference,
calibration with its reliability diagrams, answer health and the in- vs out-of-domain table with exactly the
values of ``leaderboard.json`` and ``leaderboard_tasks.json``."""

from __future__ import annotations

import json
import random

import pytest

from tests.support.browser import chromium_page, why_no_browser
from tests.support.runs import LABELS, prediction_line, write_run

pytestmark = pytest.mark.skipif(why_no_browser() is not None, reason=why_no_browser() or "")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from benchmarks.board.leaderboard import write_leaderboard

    root = tmp_path_factory.mktemp("figures-page")
    rng = random.Random(3)
    for task, n in (("emoset8", 80), ("fi8", 40)):
        gold = [LABELS[i % 8] for i in range(n)]
        for model, skill, mode in (("ranked", 0.8, "rank"), ("close", 0.75, "rank"), ("lazy", 0.1, "generate")):
            lines = []
            for i, g in enumerate(gold):
                pred = g if rng.random() < skill else ("awe" if model == "lazy" else rng.choice(LABELS))
                line = prediction_line(f"s{i}", model, task, g, pred, mode=mode)
                if mode == "rank":
                    line["scores"] = {label: rng.gauss(2.0 if label == pred else 0.0, 0.7) for label in LABELS}
                lines.append(line)
            config = {"task": {"name": task, "labels": list(LABELS)}}
            if task == "fi8":
                config["leakage"] = {"count": 5}
            write_run(root / "runs" / model / task, lines, config)
    write_leaderboard([root / "runs"], root / "board")
    folder = root / "board"
    return (folder, json.loads((folder / "leaderboard.json").read_text()),
            json.loads((folder / "leaderboard_tasks.json").read_text()))


def _table(page, selector: str) -> dict[str, dict[str, dict]]:
    """``{row's data-model: {cell's data-key: its data attributes and text}}`` of a table."""
    return dict(page.eval_on_selector_all(f"{selector} tbody tr", """trs => trs.map(tr => {
        const cells = {};
        tr.querySelectorAll('td[data-key]').forEach(td => {
            cells[td.dataset.key] = Object.assign({text: td.innerText}, td.dataset); });
        return [tr.dataset.model, cells];
    })"""))


def _number(cell: dict):
    return None if cell["value"] == "" else float(cell["value"])


def test_page_shows_ties_calibration_health_and_domains_as_in_the_json(board):
    folder, rows, tasks = board
    requests = []
    with chromium_page(1400, 1000) as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto((folder / "index.html").as_uri())
        for task in ("emoset8", "fi8"):
            section = f"section.task[data-task='{task}']"
            group = {row["model"]: row for row in rows if row["task"] == task}
            ties = tasks["tasks"][task]["ties"]
            shown = _table(page, f"{section} table.ties")
            assert sorted(shown) == sorted(group)
            for model, cells in shown.items():
                row = group[model]
                assert int(cells["rank"]["value"]) == row["rank"]
                assert cells["tied_with_best"]["value"] == {True: "true", False: "false", None: ""}[row["tied_with_best"]]
                assert _number(cells["p_vs_best"]) == row["p_vs_best"]
                assert _number(cells["p_vs_best_holm"]) == row["p_vs_best_holm"]
                assert float(cells["accuracy"]["value"]) == row["accuracy"]
            tied_rows = page.eval_on_selector_all(f"{section} table.ties tr.tied", "trs => trs.map(t => t.dataset.model)")
            assert sorted(tied_rows) == sorted(ties["tied_with_best"])
            mdd = page.eval_on_selector(f"{section} .mdd", "e => [e.dataset.value, e.dataset.n, e.innerText]")
            assert float(mdd[0]) == ties["mdd"]["value"] and int(mdd[1]) == tasks["tasks"][task]["n"]
            assert f"{ties['mdd']['value']:.3f}" in mdd[2]

            calibration = _table(page, f"{section} table.calibration")
            for model, cells in calibration.items():
                row = group[model]
                for key in ("ece", "brier", "nll"):
                    assert _number(cells[key]) == row[key], (task, model, key)
                    if row[key] is None:
                        assert cells[key]["text"] == "–"
                    else:
                        assert [float(cells[key]["ciLow"]), float(cells[key]["ciHigh"])] == row[f"{key}_ci"]
                        assert cells[key]["text"].startswith(f"{row[key]:.3f} [")
            assert calibration["lazy"]["ece"]["text"] == "–"
            diagrams = page.eval_on_selector_all(
                f"{section} figure.reliability img", "imgs => imgs.map(i => [i.closest('figure').dataset.model, "
                "i.complete && i.naturalWidth > 100, i.src.slice(0, 22)])")
            assert sorted(diagrams) == [["close", True, "data:image/png;base64,"],
                                        ["ranked", True, "data:image/png;base64,"]]

            health = _table(page, f"{section} table.health")
            for model, cells in health.items():
                row = group[model]
                assert _number(cells["top_label_share"]) == row["top_label_share"]
                assert _number(cells["tv_distance"]) == row["tv_distance"]
                assert [float(cells["tv_distance"]["ciLow"]), float(cells["tv_distance"]["ciHigh"])] == row["tv_distance_ci"]
                assert cells["top_label"]["value"] == row["top_label"] and int(cells["answered"]["value"]) == row["answered"]
                assert cells["top_label_flag"]["value"] == ("true" if row["top_label_flag"] else "false")
            assert group["lazy"]["top_label_flag"] is True and group["ranked"]["top_label_flag"] is False
            flagged = page.eval_on_selector_all(f"{section} table.health tr.flagged", "trs => trs.map(t => t.dataset.model)")
            assert flagged == ["lazy"]

        domains = tasks["domains"]
        assert domains["in_domain"] == ["emoset8"] and domains["out_of_domain"] == ["fi8"]
        shown = _table(page, "#domains table.domains")
        assert sorted(shown) == sorted(domains["models"])
        for model, cells in shown.items():
            entry = domains["models"][model]
            assert float(cells["task:emoset8"]["value"]) == entry["in_domain"]["emoset8"]["accuracy"]
            assert int(cells["task:fi8"]["n"]) == entry["out_of_domain"]["fi8"]["n"]
            for key in ("ood_mean", "ood_weighted_mean", "drop", "drop_weighted"):
                assert float(cells[key]["value"]) == entry[key], (model, key)
                assert [float(cells[key]["ciLow"]), float(cells[key]["ciHigh"])] == entry[f"{key}_ci"]
        assert "†" in page.inner_text("#domains thead") and domains["leaked"] == {"fi8": 5}
        overview = _table(page, "#board")
        assert {c["tied_with_best"]["value"] for c in overview.values()} <= {"true", "false", ""}
    assert [url for url in requests if not url.startswith("data:")] == [(folder / "index.html").as_uri()]
