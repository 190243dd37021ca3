"""``index.html`` in real headless Chromium: every row with the numbers of ``leaderboard.json``, sorting by
header clicks, the McNemar heat map and provenance, and nothing fetched from anywhere."""

from __future__ import annotations

import json

import pytest

from tests.support.browser import chromium_page, why_no_browser
from tests.support.runs import LABELS, prediction_line, write_run

pytestmark = pytest.mark.skipif(why_no_browser() is not None, reason=why_no_browser() or "")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from benchmarks.board.leaderboard import write_leaderboard

    root = tmp_path_factory.mktemp("page")
    gold = [LABELS[i % 8] for i in range(48)]
    skills = {"strong": 40, "middling": 30, "weak<script>": 12}       # a name that must be escaped
    for model, right in skills.items():
        lines = [prediction_line(f"s{i}", model, "emoset8", g, g if i < right else
                                 (None if i % 3 == 0 else LABELS[(i + 1) % 8]), mode="generate")
                 for i, g in enumerate(gold)]
        # a local checkpoint path is never shown: a Hub checkpoint by its id, a local one by its content digest
        identity = "hub:my-org/strong-vlm" if model == "strong" else "abc123def4567890"
        config = {"model": {"name": model, "reference": f"/ckpt/{model}", "identity": identity},
                  "task": {"name": "emoset8", "labels": list(LABELS)}, "task_hash": "f" * 64,
                  "versions": {"torch": "2.13.0", "transformers": "5.23.0"}, "git_commit": "0" * 40,
                  "device": "cpu", "dtype": "float32"}
        if model == "strong":
            config["leakage"] = {"count": 4}
        write_run(root / "runs" / model / "emoset8", lines, config)
    polar = ["positive", "negative"]
    write_run(root / "runs" / "strong" / "emoset2",
              [{"id": f"s{i}", "gold": polar[i % 2], "pred": polar[(i // 3) % 2]} for i in range(30)],
              {"task": {"name": "emoset2", "labels": polar}, "imported": {"tool": "lmms-eval"}})
    rows = write_leaderboard([root / "runs"], root / "board", plots=False)
    return root / "board", rows


def _cells(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, "els => els.map(e => Object.assign({text: e.textContent}, e.dataset))")


def test_page_holds_every_row_with_the_numbers_of_the_json(board):
    folder, rows = board
    assert json.loads((folder / "leaderboard.json").read_text()) == json.loads(json.dumps(rows))
    requests = []
    with chromium_page() as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto((folder / "index.html").as_uri())
        dom_rows = page.eval_on_selector_all("#board tbody tr", """trs => trs.map(tr => {
            const cells = {};
            tr.querySelectorAll('td').forEach(td => { cells[td.dataset.key] = td.dataset; });
            return {model: tr.dataset.model, task: tr.dataset.task, cells: cells};
        })""")
        assert [(r["model"], r["task"]) for r in dom_rows] == [(r["model"], r["task"]) for r in rows]
        for dom, row in zip(dom_rows, rows):
            cells = dom["cells"]
            for key in ("accuracy", "macro_f1", "uar", "parse_failure_rate"):
                assert float(cells[key]["value"]) == row[key], (row["model"], key)
            assert int(cells["n"]["value"]) == row["n"] and int(cells["rank"]["value"]) == row["rank"]
            assert [float(cells["accuracy"]["ciLow"]), float(cells["accuracy"]["ciHigh"])] == row["accuracy_ci"]
            assert cells["mode"]["value"] == row["mode"]
            assert cells["leaked"]["value"] == ("" if row["leaked"] is None else str(row["leaked"]))
        texts = page.eval_on_selector_all("#board tbody tr", "trs => trs.map(tr => tr.innerText)")
        strong = next(t for t, r in zip(texts, rows) if r["model"] == "strong" and r["task"] == "emoset8")
        row = next(r for r in rows if r["model"] == "strong" and r["task"] == "emoset8")
        assert f"{row['accuracy']:.3f} [{row['accuracy_ci'][0]:.3f}, {row['accuracy_ci'][1]:.3f}]" in strong
        heat = _cells(page, "section[data-task='emoset8'] table.mcnemar td[data-col]")
        by_model = {r["model"]: r for r in rows if r["task"] == "emoset8"}
        assert len(heat) == 6
        for cell in heat:
            assert float(cell["value"]) == by_model[cell["row"]]["mcnemar"][cell["col"]]
        recall = _cells(page, "section[data-task='emoset8'] table.recall td[data-col]")
        assert len(recall) == 3 * 8
        for cell in recall:
            assert float(cell["value"]) == by_model[cell["row"]]["per_class"][cell["col"]]["recall"]
        assert page.eval_on_selector_all("table.confusion", "ts => ts.length") == len(rows)
        confusion = page.eval_on_selector_all(
            "section[data-task='emoset8'] table.confusion", "ts => ts.map(t => [t.dataset.model, Array.from(t.tBodies[0].rows).map("
                               "r => Array.from(r.cells).slice(1).map(c => Number(c.dataset.value)))])")
        assert len(confusion) == 3
        for model, matrix in confusion:
            assert matrix == by_model[model]["confusion"]["matrix"]
        provenance = page.inner_text("section[data-task='emoset2'] .provenance")
        assert "imported from lmms-eval" in provenance and "not recorded" in provenance
        strong_card = page.inner_text("section[data-task='emoset8'] .provenance[data-model='strong']")
        assert "/ckpt/" not in page.inner_text("body")
        for fact in ("checkpoint\nmy-org/strong-vlm", "hub:my-org/strong-vlm", "f" * 64, "torch 2.13.0, transformers 5.23.0", "cpu, float32",
                     "exact 46, single_label 0, failure 2", "leaked samples\n4"):
            assert fact in strong_card
        assert page.inner_text("#board tbody tr[data-model='weak<script>'] td[data-key='model']") == "weak<script>"
        weak_card = page.inner_text("section[data-task='emoset8'] .provenance[data-model='weak<script>']")
        assert "checkpoint digest\nabc123def4567890" in weak_card and "predictions\nruns/weak<script>/emoset8" in weak_card
    assert requests == [(folder / "index.html").as_uri()]     # no CDN, no font, no image fetched


def test_clicking_a_header_reorders_the_rows(board):
    folder, rows = board

    def order(page, key):
        return page.eval_on_selector_all(f"#board tbody td[data-key='{key}']", "tds => tds.map(td => td.dataset.value)")

    with chromium_page() as page:
        page.goto((folder / "index.html").as_uri())
        page.click("#board th[data-key='macro_f1']")
        values = [float(v) for v in order(page, "macro_f1")]
        assert values == sorted((r["macro_f1"] for r in rows), reverse=True) and values != [r["macro_f1"] for r in rows]
        assert page.get_attribute("#board th[data-key='macro_f1']", "aria-sort") == "descending"
        page.click("#board th[data-key='macro_f1']")
        assert [float(v) for v in order(page, "macro_f1")] == sorted(r["macro_f1"] for r in rows)
        page.click("#board th[data-key='model']")
        assert order(page, "model") == sorted(r["model"] for r in rows)
        page.click("#board th[data-key='leaked']")                 # empty cells stay last
        assert order(page, "leaked") == ["4"] + [""] * (len(rows) - 1)


def test_screenshot_of_the_page(board, tmp_path):
    folder, _ = board
    with chromium_page(1280, 900) as page:
        page.goto((folder / "index.html").as_uri())
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    data = (tmp_path / "page.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_the_page_is_self_contained(board):
    folder, _ = board
    text = (folder / "index.html").read_text()
    for needle in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert needle not in text
    assert "weak&lt;script&gt;" in text and "weak<script>" not in text
