"""``emovit bench leaderboard``: every figure recomputed from run directories' ``predictions.jsonl``.

Nothing is trusted but the per-sample predictions: no model is loaded and no stored ``metrics.json`` is read.
A run directory needs only ``predictions.jsonl`` (``config.json`` beside it adds provenance and the task's
label set), so predictions written by other tools join the leaderboard as long as they follow
:mod:`schemas.predictions`. A prediction file may hold several models and tasks; each (model, task) must
come from one file.

Writes into ``OUT``: ``leaderboard.json`` (one row per model and task, schema
:class:`schemas.predictions.LeaderboardRowModel`), ``leaderboard.csv`` (the same rows, flat),
``leaderboard.md`` (tables per task with CIs and McNemar marks) and ``plots/*.png``.
"""

from __future__ import annotations

import json
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
        labels = ((self.config or {}).get("task") or {}).get("labels")
        if labels:
            return tuple(labels)
        return tuple(sorted({r["gold"] for r in self.rows} | {r["pred"] for r in self.rows if r["pred"]}))

    @property
    def task_hash(self) -> str | None:
        return (self.config or {}).get("task_hash")


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


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def collect_runs(paths) -> list[RunRecord]:
    """Read and validate every prediction file; one :class:`RunRecord` per (model, task)."""
    from schemas.predictions import read_predictions

    runs: dict[tuple[str, str], RunRecord] = {}
    for path in prediction_files(paths):
        config = _read_json(path.parent / "config.json")
        labels = tuple(((config or {}).get("task") or {}).get("labels") or ()) or None
        loaded = read_predictions(path, labels)
        if loaded.rejected:
            first = list(loaded.rejected.values())[:3]
            raise UsageError(f"{path}: {len(loaded.rejected)} invalid line(s): " + " | ".join(first))
        judge_path = path.parent / "judge.jsonl"
        judge = [json.loads(line) for line in judge_path.read_text(encoding="utf-8").splitlines() if line.strip()] \
            if judge_path.is_file() else None
        records = loaded.rows.to_dict("records")
        for (model, task), _ in loaded.rows.groupby(["model", "task"], sort=True):
            key = (str(model), str(task))
            if key in runs:
                raise UsageError(f"{model} on {task} appears in {runs[key].source} and in {path}; pass one of them")
            rows = [{k: (None if k in ("pred", "raw", "scores", "variant") and _missing(v) else v)
                     for k, v in r.items()} for r in records if r["model"] == model and r["task"] == task]
            runs[key] = RunRecord(key[0], key[1], rows, path, config, judge)
    _refuse_mixed_task_versions(list(runs.values()))
    return [runs[key] for key in sorted(runs)]


def _missing(value) -> bool:
    import math

    return value is None or (isinstance(value, float) and math.isnan(value))


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
    ranked = sum(r["scores"] is not None for r in rows)
    generated = sum(r["raw"] is not None and r["scores"] is None for r in rows)
    return "rank" if ranked == len(rows) else "generate" if generated == len(rows) else "mixed"


def run_figures(run: RunRecord, *, seed: int = 0) -> dict:
    """Every figure of one run, from its rows alone (see :mod:`benchmarks.metrics`)."""
    from benchmarks.metrics import bootstrap_ci, classification_metrics, variant_agreement
    from emovit_model.scoring import PARSE_RULES, parse_answer

    rows, labels = run.rows, run.labels
    figures = classification_metrics([r["gold"] for r in rows], [r["pred"] for r in rows], labels)
    low, high = bootstrap_ci([_correct(r) for r in rows], seed=seed)
    figures.update(accuracy_ci=[low, high], mode=_mode(rows), labels=list(labels))
    generated = [r for r in rows if r["raw"] is not None and r["scores"] is None]
    if generated:
        rules = {rule: 0 for rule in PARSE_RULES}
        for row in generated:
            rules[parse_answer(row["raw"], labels).rule] += 1
        figures["parse_rules"] = rules
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
    return figures


def _provenance(run: RunRecord) -> dict:
    config = run.config or {}
    training = config.get("training") or {}
    model = config.get("model") or {}
    return {
        "source": str(run.source),
        "task_hash": run.task_hash,
        "run_key": config.get("run_key"),
        "adapter": model.get("adapter"),
        "checkpoint": model.get("reference"),
        "series": model.get("series") or model.get("adapter"),
        "train_fraction": (training.get("config") or {}).get("train_fraction") if training else None,
        "device": config.get("device"),
        "dtype": config.get("dtype"),
        "git_commit": config.get("git_commit"),
        "versions": config.get("versions"),
    }


def leaderboard_rows(runs: list[RunRecord], *, seed: int = 0) -> list[dict]:
    """One row per (model, task): figures, McNemar p-values against every other model on the task, provenance."""
    from benchmarks.metrics import mcnemar_exact

    rows = []
    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    for task in sorted(by_task):
        group = by_task[task]
        outcome = {run.model: {r["id"]: _correct(r) for r in run.rows} for run in group}
        task_rows = []
        for run in group:
            figures = run_figures(run, seed=seed)
            tests, common = {}, {}
            for other in group:
                if other.model == run.model:
                    continue
                ids = sorted(set(outcome[run.model]) & set(outcome[other.model]))
                if not ids:
                    continue
                result = mcnemar_exact([outcome[run.model][i] for i in ids], [outcome[other.model][i] for i in ids])
                tests[other.model] = result["p_value"]
                common[other.model] = {"n": result["n"], "table": result["table"]}
            task_rows.append({"model": run.model, "task": task, **figures, "mcnemar": tests, "mcnemar_detail": common,
                              "bootstrap_seed": seed, **_provenance(run)})
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
               "uar", "parse_failure_rate", "parse_failures", "mcnemar", "train_fraction", "task_hash", "source")


def csv_frame(rows: list[dict]):
    """The rows flattened for ``leaderboard.csv`` (McNemar p-values as a JSON object per row)."""
    import pandas as pd

    flat = [{**{k: row.get(k) for k in CSV_COLUMNS if k in row}, "accuracy_ci_low": row["accuracy_ci"][0],
             "accuracy_ci_high": row["accuracy_ci"][1], "mcnemar": json.dumps(row["mcnemar"], sort_keys=True)}
            for row in rows]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS))


def write_leaderboard(paths, out: str | Path, *, seed: int = 0, plots: bool = True) -> list[dict]:
    """Rebuild the leaderboard of the runs under ``paths`` into ``out``; returns the rows."""
    from schemas.predictions import validate_leaderboard_rows
    from schemas.runinfo import write_json

    runs = collect_runs(paths)
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
    return rows


__all__ = ["RunRecord", "collect_runs", "leaderboard_rows", "markdown", "run_figures", "write_leaderboard"]
