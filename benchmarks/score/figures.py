"""The figures of one run, from its prediction rows alone (a run is one model on one task).

**One parser for every row.** Whenever a line carries the answer text (``raw``), its label is read again with
our parser (:func:`schemas.protocol.parse_answer`, which never guesses), whatever ``pred`` the file states;
rows with per-label ``scores`` and no text (rank mode) keep their ``pred``; rows with neither keep the ``pred``
they give. So answers of every tool are read by the same rules; ``reparse_changed`` counts the rows whose
stated ``pred`` our parser did not confirm. A derived task's text (``task.source: derived`` in the run config)
is read against the base labels and mapped. The figures themselves come from :mod:`benchmarks.score.metrics`,
calibration (rows with per-label scores) from :mod:`benchmarks.score.calibration` and answer health from
:mod:`benchmarks.score.health`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunRecord:
    """The predictions of one model on one task, where they came from, and their run config (if any).

    ``source`` is the predictions file on this machine; ``shown`` the same file as ``leaderboard.json``
    records it (relative to the folder given to ``--runs``, led by that folder's name: never a local path).
    ``label_set`` is the task's label set once every run of the task has been read (:func:`benchmarks.board.runs.collect_runs`).
    """

    model: str
    task: str
    rows: list[dict]
    source: Path
    config: dict | None
    judge: list[dict] | None = None
    shown: str | None = None
    label_set: tuple[str, ...] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        from schemas.predictions import config_labels

        if self.label_set:
            return self.label_set
        labels = config_labels(self.config)
        if labels:
            return labels
        return tuple(sorted({r["gold"] for r in self.rows} | {r["pred"] for r in self.rows if r["pred"]}))

    @property
    def task_hash(self) -> str | None:
        value = (self.config or {}).get("task_hash")
        return value if isinstance(value, str) and value else None


def as_mapping(value) -> dict:
    """``value`` when it is a mapping, else ``{}`` (run configs of other tools hold anything)."""
    return value if isinstance(value, dict) else {}


def _correct(row: dict) -> bool:
    return row["pred"] is not None and row["pred"] == row["gold"]


def _mode(rows: list[dict]) -> str:
    """How a run answered: every row generated (``raw``), ranked (``scores``), given as a label only, or mixed."""
    kinds = {"generate" if r["raw"] is not None else "rank" if r["scores"] is not None else "label" for r in rows}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _derived_map(config: dict | None) -> dict[str, str] | None:
    """``{base label: label}`` of a derived task's run config (its answer text names a base label)."""
    task = as_mapping((config or {}).get("task"))
    mapping = task.get("map")
    if task.get("source") == "derived" and isinstance(mapping, dict) and mapping \
            and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return mapping
    return None


def reparse(run: RunRecord) -> tuple[list[dict], dict[str, int], int]:
    """The run's rows with ``pred`` read again from ``raw`` by our parser (rows without text unchanged),
    how often each parse rule fired, and how many stated ``pred`` values the parser did not confirm."""
    from schemas.protocol import PARSE_RULES, parse_answer

    labels, mapping = run.labels, _derived_map(run.config)
    candidates = tuple(mapping) if mapping else labels
    rules = dict.fromkeys(PARSE_RULES, 0)
    rows, changed, seen = [], 0, {}
    for row in run.rows:
        if row["raw"] is None:
            rows.append(row)
            continue
        parsed = seen.get(row["raw"])
        if parsed is None:
            parsed = seen[row["raw"]] = parse_answer(row["raw"], candidates)
        rules[parsed.rule] += 1
        label = parsed.label if mapping is None or parsed.label is None else mapping.get(parsed.label)
        changed += label != row["pred"]
        rows.append({**row, "pred": label} if label != row["pred"] else row)
    return rows, rules, changed


def run_figures(run: RunRecord, *, seed: int = 0) -> dict:
    """Every figure of one run, from its rows alone (see :mod:`benchmarks.score.metrics`); generated answers are
    read again by our parser first (:func:`reparse`)."""
    return figures_and_outcomes(run, seed)[0]


def figures_and_outcomes(run: RunRecord, seed: int) -> tuple[dict, dict[str, bool]]:
    """:func:`run_figures` and ``{sample id: correct}`` after re-parsing."""
    from benchmarks.score.calibration import calibration
    from benchmarks.score.health import answer_health
    from benchmarks.score.metrics import bootstrap_ci, classification_metrics, variant_agreement

    rows, rules, changed = reparse(run)
    labels = run.labels
    figures = classification_metrics([r["gold"] for r in rows], [r["pred"] for r in rows], labels)
    low, high = bootstrap_ci([_correct(r) for r in rows], seed=seed)
    figures.update(accuracy_ci=[low, high], mode=_mode(rows), labels=list(labels))
    figures.update(answer_health([r["gold"] for r in rows], [r["pred"] for r in rows], labels, seed=seed))
    figures.update(calibration(rows, labels, seed=seed))
    if any(rules.values()):
        figures["parse_rules"] = rules
        figures["reparse_changed"] = changed
    variants = sorted({r["variant"] for r in rows if r.get("variant")})
    if variants:
        per_variant = {}
        for variant in variants:
            chosen = [r for r in rows if r.get("variant") == variant]
            per_variant[variant] = {"n": len(chosen), "accuracy": sum(map(_correct, chosen)) / len(chosen)}
        answers: dict[str, dict] = {}
        for row in rows:
            if row.get("variant"):
                answers.setdefault(row["image_id"], {})[row["variant"]] = row["pred"]
        figures["variants"] = per_variant
        figures["variant_agreement"] = variant_agreement(answers)
    if run.judge:
        from benchmarks.score.judges import judge_row_keys, run_judges

        first = next(iter(run_judges(run.judge)["judges"].values()))  # the first judge configured
        figures["judge"] = {"n": first["answers"], "judged": first["n"], "consistent_rate": first["share"]}
        figures.update(judge_row_keys(run.judge))
    return figures, {r["id"]: _correct(r) for r in rows}


__all__ = ["RunRecord", "as_mapping", "figures_and_outcomes", "reparse", "run_figures"]
