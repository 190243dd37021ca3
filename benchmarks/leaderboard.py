"""``emovit bench leaderboard``: every figure recomputed from run directories' ``predictions.jsonl``.

Nothing is trusted but the per-sample predictions: no model is loaded and no stored ``metrics.json`` is read.
A run directory needs only ``predictions.jsonl`` (``config.json`` beside it adds provenance and the task's
label set), so predictions written by other tools join the leaderboard: a line needs ``id``, ``gold`` and
``pred`` (or ``raw``), see :mod:`schemas.predictions`. A prediction file may hold several models and tasks;
each (model, task) must come from one file.

**One parser for every row.** Whenever a line carries the answer text (``raw``), its label is read again with
our parser (:func:`emovit_model.scoring.parse_answer`, which never guesses), whatever ``pred`` the file
states; rows with per-label ``scores`` and no text (rank mode) keep their ``pred``; rows with neither keep the
``pred`` they give. So answers of every tool are read by the same rules; ``reparse_changed`` counts the rows
whose stated ``pred`` our parser did not confirm. A derived task's text (``task.source: derived`` in the
run config) is read against the base labels and mapped.

Writes into ``OUT``: ``leaderboard.json`` (one row per model and task, schema
:class:`schemas.predictions.LeaderboardRowModel`), ``leaderboard.csv`` (the same rows, flat),
``leaderboard.md`` (tables per task with CIs and McNemar marks), ``index.html`` (one self-contained page,
:mod:`benchmarks.page`) and ``plots/*.png``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import UsageError

#: McNemar p-values below this are marked as significant in ``leaderboard.md``.
ALPHA = 0.05


@dataclass
class RunRecord:
    """The predictions of one model on one task, where they came from, and their run config (if any)."""

    model: str
    task: str
    rows: list[dict]
    source: Path
    config: dict | None
    judge: list[dict] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        from schemas.predictions import config_labels

        labels = config_labels(self.config)
        if labels:
            return labels
        return tuple(sorted({r["gold"] for r in self.rows} | {r["pred"] for r in self.rows if r["pred"]}))

    @property
    def task_hash(self) -> str | None:
        value = (self.config or {}).get("task_hash")
        return value if isinstance(value, str) and value else None


def prediction_files(paths) -> list[Path]:
    """``predictions.jsonl`` files: a file given directly, a run directory, or every one under a folder."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            found.append(path)
        elif (path / "predictions.jsonl").is_file():
            found.append(path / "predictions.jsonl")
        elif path.is_dir():
            found.extend(sorted(path.rglob("predictions.jsonl")))
        else:
            raise UsageError(f"{path}: no such run directory or predictions file")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UsageError(f"no predictions.jsonl under {', '.join(str(p) for p in paths)}")
    return unique


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _judge(path: Path) -> list[dict] | None:
    judge_path = path.parent / "judge.jsonl"
    if not judge_path.is_file():
        return None
    try:
        return [json.loads(line) for line in judge_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{judge_path}: unreadable judge verdicts ({exc})") from None


def collect_runs(paths, *, warn=_warn) -> list[RunRecord]:
    """Read and validate every prediction file; one :class:`RunRecord` per (model, task).

    A line the reader cannot accept is a :class:`~schemas.errors.UsageError` naming its file and line; an
    unreadable ``config.json`` is one ``warn`` line and the run is read without it.
    """
    from schemas.predictions import config_labels, read_predictions, read_run_config

    runs: dict[tuple[str, str], RunRecord] = {}
    for path in prediction_files(paths):
        config, _ = read_run_config(path.parent)
        loaded = read_predictions(path, config_labels(config))
        for warning in loaded.warnings:
            warn(warning)
        if loaded.rejected:
            reason, more = next(iter(loaded.rejected.values())), len(loaded.rejected) - 1
            raise UsageError(reason + (f" (and {more} more invalid line(s) in this file)" if more else ""))
        judge = _judge(path)
        groups: dict[tuple[str, str], list[dict]] = {}
        for record in loaded.records:
            groups.setdefault((record["model"], record["task"]), []).append(record)
        for key in sorted(groups):
            if key in runs:
                raise UsageError(f"{key[0]} on {key[1]} appears in {runs[key].source} and in {path}; pass one of them")
            runs[key] = RunRecord(key[0], key[1], groups[key], path, config, judge)
    _refuse_mixed_task_versions(list(runs.values()))
    return [runs[key] for key in sorted(runs)]


def _refuse_mixed_task_versions(runs: list[RunRecord]) -> None:
    by_task: dict[str, dict[str, list[str]]] = {}
    for run in runs:
        if run.task_hash:
            by_task.setdefault(run.task, {}).setdefault(run.task_hash, []).append(run.model)
    for task, hashes in sorted(by_task.items()):
        if len(hashes) > 1:
            versions = "; ".join(f"{h[:12]}: {', '.join(sorted(models))}" for h, models in sorted(hashes.items()))
            raise UsageError(f"task {task} was scored from different task files ({versions}); re-run the older "
                             "models so every model answers the same task")


def _correct(row: dict) -> bool:
    return row["pred"] is not None and row["pred"] == row["gold"]


def _mode(rows: list[dict]) -> str:
    """How a run answered: every row generated (``raw``), ranked (``scores``), given as a label only, or mixed."""
    kinds = {"generate" if r["raw"] is not None else "rank" if r["scores"] is not None else "label" for r in rows}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _derived_map(config: dict | None) -> dict[str, str] | None:
    """``{base label: label}`` of a derived task's run config (its answer text names a base label)."""
    task = _mapping((config or {}).get("task"))
    mapping = task.get("map")
    if task.get("source") == "derived" and isinstance(mapping, dict) and mapping \
            and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        return mapping
    return None


def reparse(run: RunRecord) -> tuple[list[dict], dict[str, int], int]:
    """The run's rows with ``pred`` read again from ``raw`` by our parser (rows without text unchanged),
    how often each parse rule fired, and how many stated ``pred`` values the parser did not confirm."""
    from emovit_model.scoring import PARSE_RULES, parse_answer

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
    """Every figure of one run, from its rows alone (see :mod:`benchmarks.metrics`); generated answers are
    read again by our parser first (:func:`reparse`)."""
    return _figures(run, seed)[0]


def _figures(run: RunRecord, seed: int) -> tuple[dict, dict[str, bool]]:
    """:func:`run_figures` and ``{sample id: correct}`` after re-parsing."""
    from benchmarks.metrics import bootstrap_ci, classification_metrics, variant_agreement

    rows, rules, changed = reparse(run)
    labels = run.labels
    figures = classification_metrics([r["gold"] for r in rows], [r["pred"] for r in rows], labels)
    low, high = bootstrap_ci([_correct(r) for r in rows], seed=seed)
    figures.update(accuracy_ci=[low, high], mode=_mode(rows), labels=list(labels))
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
        verdicts = [j.get("verdict") for j in run.judge]
        judged = [v for v in verdicts if v in ("consistent", "inconsistent")]
        figures["judge"] = {"n": len(verdicts), "judged": len(judged),
                            "consistent_rate": (judged.count("consistent") / len(judged)) if judged else None}
    return figures, {r["id"]: _correct(r) for r in rows}


def _leaked(config: dict) -> int | None:
    """The count of a run config's top-level ``leakage`` record (samples also seen in training), if any."""
    count = _mapping(config.get("leakage")).get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _provenance(run: RunRecord) -> dict:
    config = run.config or {}
    training = _mapping(config.get("training"))
    model = _mapping(config.get("model"))
    imported = _mapping(config.get("imported"))
    versions = config.get("versions")
    return {
        "source": str(run.source),
        "task_hash": run.task_hash,
        "run_key": config.get("run_key"),
        "adapter": model.get("adapter"),
        "checkpoint": model.get("reference"),
        "checkpoint_identity": model.get("identity"),
        "series": model.get("series") or model.get("adapter"),
        "trained_here": bool(training),
        "train_fraction": _mapping(training.get("config")).get("train_fraction") if training else None,
        "device": config.get("device"),
        "dtype": config.get("dtype"),
        "git_commit": config.get("git_commit"),
        "versions": versions if isinstance(versions, dict) else None,
        "imported_from": imported.get("tool"),
        "leaked": _leaked(config),
    }


def leaderboard_rows(runs: list[RunRecord], *, seed: int = 0) -> list[dict]:
    """One row per (model, task): figures, McNemar p-values against every other model on the task, provenance."""
    from benchmarks.metrics import pairwise_mcnemar

    rows = []
    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    for task in sorted(by_task):
        group = by_task[task]
        computed = {run.model: _figures(run, seed) for run in group}
        figures = {model: found for model, (found, _) in computed.items()}
        pairs = pairwise_mcnemar({model: outcome for model, (_, outcome) in computed.items()})
        task_rows = []
        for run in group:
            others = [other.model for other in group if other.model != run.model and (run.model, other.model) in pairs]
            tests = {other: pairs[(run.model, other)]["p_value"] for other in others}
            common = {other: {"n": pairs[(run.model, other)]["n"], "table": pairs[(run.model, other)]["table"]}
                      for other in others}
            task_rows.append({"model": run.model, "task": task, **figures[run.model], "mcnemar": tests,
                              "mcnemar_detail": common, "bootstrap_seed": seed, **_provenance(run)})
        task_rows.sort(key=lambda row: (-row["accuracy"], row["model"]))
        for rank, row in enumerate(task_rows, start=1):
            row["rank"] = rank
        rows.extend(task_rows)
    return rows


# ------------------------------------------------------------------------------------------ writing
def _fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def markdown(rows: list[dict], plots: dict[str, list[str]] | None = None) -> str:
    """``leaderboard.md``: a table per task (best first), McNemar against the best, pairwise p-values."""
    from tabulate import tabulate

    intro = ("Recomputed from `predictions.jsonl` alone. Accuracy (= WA) with a 95% percentile-bootstrap CI "
             f"(seed {rows[0]['bootstrap_seed'] if rows else 0}, 2,000 resamples); macro-F1 and UAR over the "
             "task's labels; parse failures count as wrong. McNemar: exact test over the samples both models "
             f"scored; `*` marks p < {ALPHA} against the best model of the task.")
    lines = ["# Leaderboard", "", intro, ""]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    for task in tasks:
        group = [row for row in rows if row["task"] == task]
        best = group[0]
        lines += [f"## {task}", ""]
        table = []
        for row in group:
            if row is best:
                versus = "(best)"
            elif best["model"] in row["mcnemar"]:
                p = row["mcnemar"][best["model"]]
                versus = f"{_p(p)}{' *' if p < ALPHA else ''}"
            else:
                versus = "–"
            low, high = row["accuracy_ci"]
            table.append([row["rank"], row["model"], row["mode"], row["n"],
                          f"{row['accuracy']:.3f} [{low:.3f}, {high:.3f}]", _fmt(row["macro_f1"]), _fmt(row["uar"]),
                          f"{row['parse_failure_rate']:.3f}", versus])
        lines.append(tabulate(table, headers=["#", "model", "mode", "n", "accuracy [95% CI]", "macro-F1", "UAR",
                                              "parse fail", f"McNemar p vs {best['model']}"], tablefmt="github", disable_numparse=True))
        lines.append("")
        if len(group) > 2:
            models = [row["model"] for row in group]
            matrix = [[row["model"], *("" if other == row["model"] else
                                       (_p(row["mcnemar"][other]) if other in row["mcnemar"] else "–")
                                       for other in models)] for row in group]
            lines += ["Pairwise exact McNemar p-values:", "",
                      tabulate(matrix, headers=["", *models], tablefmt="github", disable_numparse=True), ""]
        extra = [row for row in group if row.get("variants")]
        if extra:
            variants = sorted({v for row in extra for v in row["variants"]})
            table = [[row["model"], *(_fmt(row["variants"].get(v, {}).get("accuracy")) for v in variants),
                      _fmt(row["variant_agreement"]["agreement"]), _fmt(row["variant_agreement"]["fleiss_kappa"])]
                     for row in extra]
            lines += ["Accuracy per instruction variant, and agreement across them:", "",
                      tabulate(table, headers=["model", *variants, "same answer", "Fleiss' kappa"],
                               tablefmt="github", disable_numparse=True), ""]
        judged = [row for row in group if row.get("judge")]
        if judged:
            table = [[row["model"], row["judge"]["judged"], _fmt(row["judge"]["consistent_rate"])] for row in judged]
            lines += ["LLM judge (reasoning supports the gold emotion):", "",
                      tabulate(table, headers=["model", "judged", "consistent"], tablefmt="github", disable_numparse=True), ""]
        for plot in (plots or {}).get(task, []):
            lines.append(f"![{Path(plot).stem}]({plot})")
        if (plots or {}).get(task):
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


CSV_COLUMNS = ("task", "rank", "model", "mode", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1",
               "uar", "parse_failure_rate", "parse_failures", "mcnemar", "train_fraction", "task_hash", "source",
               "leaked")


def csv_frame(rows: list[dict]):
    """The rows flattened for ``leaderboard.csv`` (McNemar p-values as a JSON object per row)."""
    import pandas as pd

    flat = [{**{k: row.get(k) for k in CSV_COLUMNS if k in row}, "accuracy_ci_low": row["accuracy_ci"][0],
             "accuracy_ci_high": row["accuracy_ci"][1], "mcnemar": json.dumps(row["mcnemar"], sort_keys=True)}
            for row in rows]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS))


def write_leaderboard(paths, out: str | Path, *, seed: int = 0, plots: bool = True, warn=_warn) -> list[dict]:
    """Rebuild the leaderboard of the runs under ``paths`` into ``out`` (``leaderboard.json``, ``.csv``,
    ``.md``, ``index.html`` and ``plots/``); returns the rows."""
    from benchmarks.page import write_page
    from schemas.predictions import validate_leaderboard_rows
    from schemas.runinfo import write_json

    runs = collect_runs(paths, warn=warn)
    rows = leaderboard_rows(runs, seed=seed)
    validate_leaderboard_rows(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    if plots:
        from benchmarks.plots import write_plots

        written = write_plots(rows, out / "plots")
    write_json(out / "leaderboard.json", rows)
    csv_frame(rows).to_csv(out / "leaderboard.csv", index=False)
    (out / "leaderboard.md").write_text(markdown(rows, {t: [str(Path(p).relative_to(out)) for p in ps]
                                                        for t, ps in written.items()}), encoding="utf-8")
    write_page(rows, out / "index.html")
    return rows


__all__ = ["RunRecord", "collect_runs", "leaderboard_rows", "markdown", "reparse", "run_figures",
           "write_leaderboard"]
