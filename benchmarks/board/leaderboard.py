"""``emovit bench leaderboard``: every figure recomputed from run directories' ``predictions.jsonl``.

Nothing is trusted but the per-sample predictions: no model is loaded and no stored ``metrics.json`` is read.
The runs are gathered by :mod:`benchmarks.board.runs`; each run's figures come from
:mod:`benchmarks.score.figures` (answers read again by our parser); this module ranks the runs of each task,
adds McNemar tests between them and where each run comes from, and writes the board.

Writes into ``OUT``: ``leaderboard.json`` (one row per model and task, schema
:class:`schemas.predictions.LeaderboardRowModel`), ``leaderboard.csv`` (the same rows, flat),
``leaderboard.md`` (tables per task with CIs and McNemar marks), ``index.html`` (one self-contained page,
:mod:`benchmarks.board.page`) and ``plots/*.png``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from benchmarks.board.runs import collect_runs, warn_line
from benchmarks.score.figures import RunRecord, as_mapping, figures_and_outcomes
from schemas.errors import UsageError

#: McNemar p-values below this are marked as significant in ``leaderboard.md``.
ALPHA = 0.05


def _leaked(config: dict) -> int | None:
    """The count of a run config's top-level ``leakage`` record (samples also seen in training), if any."""
    count = as_mapping(config.get("leakage")).get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def hub_id(value) -> str | None:
    """``value`` when it is a valid Hugging Face repository id (``huggingface_hub``'s own check), else ``None``."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(value, str) or not value:
        return None
    try:
        validate_repo_id(value)
    except HFValidationError:
        return None
    return value


def checkpoint_names(model: dict) -> tuple[str | None, str | None]:
    """``(checkpoint, checkpoint_identity)`` of a run config's model as the leaderboard may publish them: the
    Hub id of a checkpoint loaded from the Hub (a local checkpoint's path is never recorded), and the content
    digest (``hub:<id>`` for a Hub checkpoint); anything else a config holds there is dropped."""
    identity = model.get("identity")
    if isinstance(identity, str) and identity.startswith("hub:") and hub_id(identity[4:]):
        return identity[4:], identity
    digest = identity if isinstance(identity, str) and re.fullmatch(r"[0-9a-f]{8,64}", identity) else None
    return None, digest


def _text(value) -> str | None:
    """A run config's value when it is a non-empty string (configs of other tools hold anything)."""
    return value if isinstance(value, str) and value else None


def _fraction(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value <= 1
    return value if ok else None


def _provenance(run: RunRecord) -> dict:
    """Where a run's figures come from, from its config: only values of the expected types are kept."""
    config = run.config or {}
    training = as_mapping(config.get("training"))
    model = as_mapping(config.get("model"))
    imported = as_mapping(config.get("imported"))
    versions = config.get("versions")
    checkpoint, identity = checkpoint_names(model)
    return {
        "source": run.shown or f"{run.source.parent.name}/{run.source.name}",
        "task_hash": run.task_hash,
        "run_key": _text(config.get("run_key")),
        "adapter": _text(model.get("adapter")),
        "checkpoint": checkpoint,
        "checkpoint_identity": identity,
        "series": _text(model.get("series")) or _text(model.get("adapter")),
        "trained_here": bool(training),
        "train_fraction": _fraction(as_mapping(training.get("config")).get("train_fraction")) if training else None,
        "device": _text(config.get("device")),
        "dtype": _text(config.get("dtype")),
        "git_commit": _text(config.get("git_commit")),
        "versions": ({str(k): v for k, v in versions.items() if isinstance(v, str)}
                     if isinstance(versions, dict) else None),
        "imported_from": _text(imported.get("tool")),
        "leaked": _leaked(config),
    }


def leaderboard_rows(runs: list[RunRecord], *, seed: int = 0) -> list[dict]:
    """One row per (model, task): figures, McNemar p-values against every other model on the task, provenance."""
    from benchmarks.score.metrics import pairwise_mcnemar

    rows = []
    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    for task in sorted(by_task):
        group = by_task[task]
        computed = {run.model: figures_and_outcomes(run, seed) for run in group}
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


def markdown(rows: list[dict], plots: dict[str, list[str]] | None = None, tasks_doc: dict | None = None) -> str:
    """``leaderboard.md``: a table per task (best first), McNemar against the best, pairwise p-values.
    Model, task and variant names are escaped as Markdown text (:func:`benchmarks.board.escape.markdown_text`)."""
    from tabulate import tabulate

    from benchmarks.board.escape import markdown_text as md
    from benchmarks.board.page_sections import task_markdown

    intro = ("Recomputed from `predictions.jsonl` alone. Accuracy (= WA) with a 95% percentile-bootstrap CI "
             f"(seed {rows[0]['bootstrap_seed'] if rows else 0}, 2,000 resamples); macro-F1 and UAR over the "
             "task's labels; parse failures count as wrong. McNemar: exact test over the samples both models "
             f"scored; `*` marks p < {ALPHA} against the best model of the task.")
    lines = ["# Leaderboard", "", intro, ""]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    for task in tasks:
        group = [row for row in rows if row["task"] == task]
        best = group[0]
        lines += [f"## {md(task)}", ""]
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
            table.append([row["rank"], md(row["model"]), row["mode"], row["n"],
                          f"{row['accuracy']:.3f} [{low:.3f}, {high:.3f}]", _fmt(row["macro_f1"]), _fmt(row["uar"]),
                          f"{row['parse_failure_rate']:.3f}", versus])
        lines.append(tabulate(table, headers=["#", "model", "mode", "n", "accuracy [95% CI]", "macro-F1", "UAR",
                                              "parse fail", f"McNemar p vs {md(best['model'])}"], tablefmt="github",
                              disable_numparse=True))
        lines.append("")
        if len(group) > 2:
            models = [row["model"] for row in group]
            matrix = [[md(row["model"]), *("" if other == row["model"] else
                                           (_p(row["mcnemar"][other]) if other in row["mcnemar"] else "–")
                                           for other in models)] for row in group]
            lines += ["Pairwise exact McNemar p-values:", "",
                      tabulate(matrix, headers=["", *map(md, models)], tablefmt="github", disable_numparse=True), ""]
        extra = [row for row in group if row.get("variants")]
        if extra:
            variants = sorted({v for row in extra for v in row["variants"]})
            table = [[md(row["model"]), *(_fmt(row["variants"].get(v, {}).get("accuracy")) for v in variants),
                      _fmt(row["variant_agreement"]["agreement"]), _fmt(row["variant_agreement"]["fleiss_kappa"])]
                     for row in extra]
            lines += ["Accuracy per instruction variant, and agreement across them:", "",
                      tabulate(table, headers=["model", *map(md, variants), "same answer", "Fleiss' kappa"],
                               tablefmt="github", disable_numparse=True), ""]
        judged = [row for row in group if row.get("judge")]
        if judged:
            table = [[md(row["model"]), row["judge"]["judged"], _fmt(row["judge"]["consistent_rate"])]
                     for row in judged]
            lines += ["LLM judge (reasoning supports the gold emotion):", "",
                      tabulate(table, headers=["model", "judged", "consistent"], tablefmt="github", disable_numparse=True), ""]
        lines += task_markdown(task, (tasks_doc or {}).get("tasks", {}).get(task))
        for plot in (plots or {}).get(task, []):
            lines.append(f"![{Path(plot).stem}]({plot})")
        if (plots or {}).get(task):
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


CSV_COLUMNS = ("task", "rank", "model", "mode", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1",
               "uar", "parse_failure_rate", "parse_failures", "mcnemar", "train_fraction", "task_hash", "source",
               "leaked")


def csv_frame(rows: list[dict]):
    """The rows flattened for ``leaderboard.csv`` (McNemar p-values as a JSON object per row); text that a
    spreadsheet would run as a formula is written with a leading ``'`` (:func:`benchmarks.board.escape.csv_cell`)."""
    import pandas as pd

    from benchmarks.board.escape import csv_cell

    flat = [{**{k: csv_cell(row.get(k)) for k in CSV_COLUMNS if k in row}, "accuracy_ci_low": row["accuracy_ci"][0],
             "accuracy_ci_high": row["accuracy_ci"][1],
             "mcnemar": csv_cell(json.dumps(row["mcnemar"], sort_keys=True, ensure_ascii=False))}
            for row in rows]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS))


def check_seed(seed) -> int:
    """The bootstrap seed, a non-negative integer (one :class:`UsageError` line otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"--seed {seed!r}: the bootstrap seed is an integer >= 0")
    return seed


#: The board's own record of where its predictions lie on this machine (read by ``bench publish``; never
#: published: ``leaderboard.json`` names each file relative to the folder given to ``--runs``).
LOCAL_SOURCES = "local_sources.json"


def local_sources(runs: list[RunRecord]) -> dict:
    """The content of :data:`LOCAL_SOURCES`: each run's predictions file by model and task."""
    return {"note": "local paths of this board's predictions files, for 'emovit bench publish'; never published",
            "runs": [{"model": run.model, "task": run.task, "source": run.shown, "path": str(run.source)}
                     for run in runs]}


def task_sections(runs: list[RunRecord], rows: list[dict], data: dict | None = None) -> dict:
    """``leaderboard_tasks.json``: per task its n, labels and sections; adds the per-run keys of the sections
    (:func:`benchmarks.score.sections.row_figures`) to ``rows``."""
    from benchmarks.score.probes import probes_section
    from benchmarks.score.sections import row_figures
    from benchmarks.score.slices import polarity_errors_section, slices_section
    from benchmarks.score.task_data import task_contexts
    from benchmarks.score.votes import human_votes_section

    contexts = task_contexts(runs, data)
    document: dict = {"tasks": {}}
    for task, context in sorted(contexts.items()):
        group = [run for run in runs if run.task == task]
        entry = document["tasks"][task] = {"n": max(len(run.rows) for run in group), "labels": list(context.labels)}
        entry["human_votes"] = human_votes_section(task, group, context)
        entry["slices"] = slices_section(task, group, context)
        entry["polarity_errors"] = polarity_errors_section(task, group, context)
        entry["probes"] = probes_section(task, group, context)
    for row in rows:
        row.update(row_figures(document["tasks"].get(row["task"]), row["model"]))
    return document


def write_leaderboard(paths, out: str | Path, *, seed: int = 0, plots: bool = True, warn=warn_line,
                      root: str | Path | None = None, data: dict | None = None) -> list[dict]:
    """Rebuild the leaderboard of the runs under ``paths`` into ``out`` (``leaderboard.json``, ``.csv``,
    ``.md``, ``index.html``, ``plots/`` and :data:`LOCAL_SOURCES`); returns the rows. Every file lies
    inside ``out`` whatever the model and task names hold (plots are named by :mod:`schemas.names`)."""
    from benchmarks.board.folders import output_folder, writing
    from benchmarks.board.page import write_page
    from schemas.predictions import validate_leaderboard_rows
    from schemas.runinfo import write_json

    check_seed(seed)
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"{out}: exists and is not a folder (--out names the folder for the leaderboard)")
    runs = collect_runs(paths, warn=warn, root=root)
    rows = leaderboard_rows(runs, seed=seed)
    tasks_doc = task_sections(runs, rows, data)
    validate_leaderboard_rows(rows)
    out = output_folder(out, "the leaderboard")
    written: dict[str, list[str]] = {}
    with writing("the leaderboard", out):
        if plots:
            from benchmarks.board.plots import write_plots

            written = write_plots(rows, out / "plots")
        write_json(out / "leaderboard.json", rows)
        write_json(out / "leaderboard_tasks.json", tasks_doc)
        write_json(out / LOCAL_SOURCES, local_sources(runs))
        csv_frame(rows).to_csv(out / "leaderboard.csv", index=False)
        (out / "leaderboard.md").write_text(markdown(rows, {t: [Path(p).relative_to(out).as_posix() for p in ps]
                                                            for t, ps in written.items()}, tasks_doc),
                                               encoding="utf-8")
        write_page(rows, out / "index.html", tasks_doc=tasks_doc)
    return rows


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench leaderboard``'s arguments."""
    parser.description = ("Recompute every figure from predictions.jsonl files (never the models, never a stored "
                          "metrics.json); writes leaderboard.md/.csv/.json and plots.")
    parser.add_argument("--runs", nargs="+", required=True, metavar="DIR",
                        help="run directories, folders holding them, or predictions.jsonl files")
    parser.add_argument("--out", required=True, help="folder for leaderboard.md, .csv, .json and plots/")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--data", nargs="+", default=[], metavar="data.KEY=VALUE",
                        help="task data for runs whose folders carry no sample_data.jsonl: data.build=BUILD, "
                             "data.roots.<task or dataset>=PATH")
    parser.set_defaults(handler=run)


def run(args) -> int:
    check_seed(args.seed)
    from benchmarks.data.sample_data import parse_data_options

    rows = write_leaderboard(args.runs, args.out, seed=args.seed, plots=not args.no_plots,
                             data=parse_data_options(args.data))
    print(f"{len(rows)} rows -> {args.out}/leaderboard.md, leaderboard.csv, leaderboard.json, index.html")
    return 0


__all__ = ["LOCAL_SOURCES", "check_seed", "checkpoint_names", "hub_id", "leaderboard_rows", "markdown",
           "write_leaderboard"]
