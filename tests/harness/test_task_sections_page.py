"""The page shows the human-vote, slice, polarity-error and probe sections with the values of
``leaderboard_tasks.json``, in a real headless Chromium."""

from __future__ import annotations

import json

import pytest

from benchmarks.board.leaderboard import write_leaderboard
from tests.support.browser import chromium_page, why_no_browser
from tests.support.task_sections_runs import write_case

pytestmark = pytest.mark.skipif(why_no_browser() is not None, reason=why_no_browser() or "")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("sections-page")
    write_leaderboard([write_case(root)], root / "board", plots=False)
    return root / "board", json.loads((root / "board" / "leaderboard_tasks.json").read_text())["tasks"]


def _cells(page, task: str, section: str) -> dict[tuple[str, str], str]:
    """``{(data-key, data-model): data-value}`` of one section of one task as the browser sees it."""
    found = page.eval_on_selector_all(
        f"section.task[data-task='{task}'] div.task-section[data-section='{section}'] td[data-key]",
        "tds => tds.map(td => [td.dataset.key, td.dataset.model || '', td.dataset.value, td.innerText])")
    return {(key, model): value for key, model, value, _ in found}


def test_the_page_shows_every_section_with_the_json_values(board):
    folder, tasks = board
    with chromium_page(1280, 900) as page:
        page.goto((folder / "index.html").as_uri())
        votes = tasks["emotion6"]["human_votes"]
        shown = _cells(page, "emotion6", "human_votes")
        for model, found in votes["models"].items():
            assert float(shown[("majority_accuracy", model)]) == found["majority_accuracy"]["rate"]
            kl = found["kl"]["mean"] if found["kl"] else None
            assert shown[("human_kl", model)] == ("" if kl is None else repr(kl))
        assert float(shown[("human_reference", "")]) == votes["human_reference"]["mean"]
        assert float(shown[("valence_spearman", "v")]) == votes["models"]["v"]["valence_spearman"]["rho"]
        reference = page.inner_text("section.task[data-task='emotion6'] tr.reference")
        assert "not ranked" in reference and "0.750" in reference

        polarity = _cells(page, "emoset8", "polarity_errors")
        ours = tasks["emoset8"]["polarity_errors"]["models"]["ours"]
        assert int(polarity[("same_polarity_errors", "ours")]) == ours["same_polarity"] == 2
        assert int(polarity[("cross_polarity_errors", "ours")]) == ours["cross_polarity"] == 2
        assert float(polarity[("cross_polarity_share", "ours")]) == ours["cross_share"]["rate"]

        page.click("section.task[data-task='emoset8'] details summary:has-text('objects')")
        dog = page.inner_text("section.task[data-task='emoset8'] tr[data-attribute='objects'][data-value='Dog']")
        assert "0.333" in dog and "(n=3)" in dog

        probes = _cells(page, "sensitivity", "probes")
        p = tasks["sensitivity"]["probes"]["models"]["p"]
        assert float(probes[("flip_rate_shuffled", "p")]) == p["flip_rate"]["shuffled"]["rate"] == 0.4
        assert float(probes[("flip_rate_reversed", "p")]) == p["flip_rate"]["reversed"]["rate"]
        assert float(probes[("gold_first_accuracy", "p")]) == p["gold_first"]["rate"]
        assert float(probes[("gold_last_accuracy", "p")]) == p["gold_last"]["rate"]

        blank = _cells(page, "blank", "probes")
        found = tasks["blank"]["probes"]["blank"]["p"]
        assert float(blank[("blank_accuracy", "p")]) == found["accuracy"]["rate"]
        assert float(blank[("chance", "p")]) == tasks["blank"]["probes"]["chance"]
        assert float(blank[("predicted_sadness", "p")]) == found["predicted"]["sadness"] == 0.75
        assert "not ranked" in page.inner_text("section.task[data-task='blank'] div.task-section[data-section='probes'] h3")
        page.screenshot(path=str(folder / "sections.png"), full_page=True)
