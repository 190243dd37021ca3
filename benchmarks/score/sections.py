"""The leaderboard's per-run keys that come from its per-task sections (human votes, polarity errors, probes):
one flat dict per (model, task) row, null where a figure does not apply."""

from __future__ import annotations

from benchmarks.score.probes import probes_row_figures
from benchmarks.score.slices import slices_row_figures
from benchmarks.score.votes import human_votes_row_figures

#: The keys :func:`row_figures` adds to every ``leaderboard.json`` row.
ROW_KEYS = ("human_kl", "human_js", "majority_accuracy", "majority_n", "valence_spearman", "same_polarity_errors",
            "cross_polarity_errors", "cross_polarity_share", "flip_rate", "flip_n", "gold_first_accuracy",
            "gold_first_n", "gold_last_accuracy", "gold_last_n")


def row_figures(task_doc: dict | None, model: str) -> dict:
    """The keys of :data:`ROW_KEYS` for one model from its task's entry of ``leaderboard_tasks.json``."""
    task_doc = task_doc or {}
    return {**human_votes_row_figures(task_doc.get("human_votes"), model),
            **slices_row_figures(task_doc.get("polarity_errors"), model),
            **probes_row_figures(task_doc.get("probes"), model)}


__all__ = ["ROW_KEYS", "row_figures"]
