"""``emovit bench leaderboard``: every figure recomputed from run directories' ``predictions.jsonl``.

Nothing is trusted but the per-sample predictions: no model is loaded and no stored ``metrics.json`` is read.
The runs are gathered by :mod:`benchmarks.board.runs`; each run's figures come from
:mod:`benchmarks.score.figures` (answers read again by our parser); this module ranks the runs of each task,
adds McNemar tests between them, the statistically tied group (:mod:`benchmarks.score.ties`), the in- vs
out-of-domain summary (:mod:`benchmarks.score.domains`) and where each run comes from, and writes the board.

Writes into ``OUT``: ``leaderboard.json`` (one row per model and task, schema
:class:`schemas.predictions.LeaderboardRowModel`), ``leaderboard_tasks.json`` (per task: n, labels, the ties
and the minimum detectable difference; across tasks: the in- vs out-of-domain summary), ``leaderboard.csv``
(the rows, flat), ``leaderboard.md`` (tables per task with CIs, ties and McNemar marks), ``index.html`` (one
self-contained page, :mod:`benchmarks.board.page`) and ``plots/*.png``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from benchmarks.board.formats import fixed, p_text
from benchmarks.board.runs import collect_runs, warn_line
from benchmarks.score.domains import IN_DOMAIN, check_in_domain
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


def _rank_task(group: list[RunRecord], seed: int, ranked: bool = True) -> tuple[list[dict], dict]:
    """The rows of one task's runs (best first) with McNemar p-values against every other model, the tie
    figures (:mod:`benchmarks.score.ties`) and provenance; and the task's ``ties`` section. A probe task
    (``ranked`` false: the blank image) gets its figures but no rank, no ties and no McNemar tests."""
    from benchmarks.score.metrics import pairwise_mcnemar
    from benchmarks.score.ties import minimum_detectable_difference, tied_groups

    task = group[0].task
    computed = {run.model: figures_and_outcomes(run, seed) for run in group}
    outcomes = {model: outcome for model, (_, outcome) in computed.items()}
    pairs = pairwise_mcnemar(outcomes) if ranked else {}
    rows = []
    for run in group:
        others = [other.model for other in group if other.model != run.model and (run.model, other.model) in pairs]
        tests = {other: pairs[(run.model, other)]["p_value"] for other in others}
        common = {other: {"n": pairs[(run.model, other)]["n"], "table": pairs[(run.model, other)]["table"]}
                  for other in others}
        rows.append({"model": run.model, "task": task, **computed[run.model][0], "mcnemar": tests,
                     "mcnemar_detail": common, "bootstrap_seed": seed, **_provenance(run)})
    rows.sort(key=lambda row: (-row["accuracy"], row["model"]))
    n = len(set().union(*outcomes.values()))
    document = {"n": n, "labels": rows[0]["labels"], "models": len(rows), "chance": 1 / len(rows[0]["labels"]),
                "ranked": ranked, "ties": None}
    if not ranked:
        for row in rows:
            row.update(rank=None, tied_with_best=None, significantly_better=None, p_vs_best=None,
                       p_vs_best_holm=None)
        return rows, document
    ties = tied_groups([row["model"] for row in rows], pairs)
    for row in rows:
        versus = ties["comparisons"].get(row["model"], {})
        row.update(ties["per_model"][row["model"]], p_vs_best=versus.get("p_value"), p_vs_best_holm=versus.get("p_holm"))
    ties["mdd"] = minimum_detectable_difference(rows[0]["accuracy"], n)
    return rows, {**document, "ties": ties}


def leaderboard(runs: list[RunRecord], *, seed: int = 0, in_domain=IN_DOMAIN,
                data: dict | None = None) -> tuple[list[dict], dict]:
    """One row per (model, task) (figures, McNemar p-values against every other model on the task, whether it is
    tied with the task's best and its rank, provenance) and the per-task and cross-task document
    ``leaderboard_tasks.json``:
    ``{"tasks": {task: {"n", "labels", "models", "chance", "ties": {..., "mdd"}, "human_votes", "slices",
    "polarity_errors", "probes", "judges"}}, "domains": {...}}`` (:func:`task_sections`; ``data``: the task data
    of runs whose folders carry none, ``data.build`` and ``data.roots.*``)."""
    from benchmarks.score.domains import domain_summary, held_out_tasks, unranked_tasks

    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    rows, tasks = [], {}
    probes = unranked_tasks(runs)
    for task in sorted(by_task):
        task_rows, tasks[task] = _rank_task(by_task[task], seed, ranked=task not in probes)
        rows.extend(task_rows)
    task_sections(runs, rows, tasks, data)
    leaked = {}
    for row in rows:
        if row.get("leaked"):
            leaked[row["task"]] = max(leaked.get(row["task"], 0), row["leaked"])
    domains = domain_summary(rows, list(in_domain), held_out_tasks(runs), leaked)
    return rows, {"tasks": tasks, "domains": domains}


# ------------------------------------------------------------------------------------------ writing
def _ci(value, interval, digits: int = 3) -> str:
    """``value [low, high]``, or "–" when the figure does not apply."""
    if value is None:
        return "–"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]" if interval else fixed(value, digits)


def _tied(value) -> str:
    return "–" if value is None else "yes" if value else "no"


def _versus(row: dict, best: dict) -> str:
    """A row's exact McNemar p against the task's best, Holm's corrected p, and ``*`` when significant."""
    if row["rank"] is None:  # a probe task: no comparisons
        return "–"
    if row is best:
        return "(best)"
    if row.get("p_vs_best") is None:
        return "–"
    return f"{p_text(row['p_vs_best'])} (Holm {p_text(row['p_vs_best_holm'])}){' *' if row['tied_with_best'] is False else ''}"


def _ties_line(document: dict, md) -> str:
    ties, mdd = document["ties"], document["ties"]["mdd"]
    return (f"Tied with the best ({md(ties['leader'])}; exact McNemar against it, Holm over the "
            f"{len(ties['comparisons'])} comparison(s), alpha {ties['alpha']}): "
            f"**{', '.join(map(md, ties['tied_with_best']))}**. Minimum detectable difference at n = {mdd['n']:,}: "
            f"{mdd['value']:.3f} (80% power, two-sided 5%; p = the leader's accuracy {mdd['p']:.3f}).")


def domains_markdown(domains: dict, md) -> list[str]:
    """The in- vs out-of-domain table of ``leaderboard.md`` (nothing when the board has no out-of-domain task)."""
    from tabulate import tabulate

    inside, outside = domains["in_domain"], domains["out_of_domain"]
    if not outside or not domains["models"]:
        return []
    mark = {task: "†" if task in domains["leaked"] else "" for task in inside + outside}
    table = []
    for model, entry in sorted(domains["models"].items(), key=lambda item: (item[1]["drop"] is None,
                                                                           -(item[1]["ood_mean"] or 0), item[0])):
        cells = {**entry["in_domain"], **entry["out_of_domain"]}
        table.append([md(model), *(_ci(cells[t]["accuracy"], cells[t]["accuracy_ci"]) if t in cells else "–"
                                   for t in inside + outside),
                      f"{_ci(entry['ood_mean'], entry['ood_mean_ci'])} ({entry['ood_tasks']}/{entry['ood_tasks_total']})",
                      _ci(entry["ood_weighted_mean"], entry["ood_weighted_mean_ci"]),
                      _ci(entry["drop"], entry["drop_ci"]), _ci(entry["drop_weighted"], entry["drop_weighted_ci"])])
    headers = ["model", *(f"{md(t)}{mark[t]} (in)" for t in inside), *(f"{md(t)}{mark[t]}" for t in outside),
               "out-of-domain mean, unweighted (tasks)", "out-of-domain mean, n-weighted", "drop (unweighted)",
               "drop (n-weighted)"]
    lines = ["## In-domain vs out-of-domain", "",
             f"In-domain: {', '.join(map(md, inside)) or '–'}; out-of-domain (held-out): {', '.join(map(md, outside))}. "
             "Accuracy [95% CI]; the drop is the in-domain accuracy (first in-domain column) minus the mean; "
             "intervals of means and drops by the normal approximation." +
             (" † the task's images were found in training data (`bench leakage`): " +
              ", ".join(f"{md(t)} ({c})" for t, c in domains["leaked"].items()) if domains["leaked"] else ""), "",
             tabulate(table, headers=headers, tablefmt="github", disable_numparse=True), ""]
    return lines


def markdown(rows: list[dict], plots: dict[str, list[str]] | None = None, tasks: dict | None = None) -> str:
    """``leaderboard.md``: a table per task (best first) with ties, McNemar against the best, pairwise
    p-values, calibration and answer health; the in- vs out-of-domain table (from ``tasks``, the
    ``leaderboard_tasks.json`` document). Model, task and variant names are escaped as Markdown text
    (:func:`benchmarks.board.escape.markdown_text`)."""
    from tabulate import tabulate

    from benchmarks.board.escape import markdown_text as md
    from benchmarks.board.page_sections import task_markdown

    intro = ("Recomputed from `predictions.jsonl` alone. Accuracy (= WA) with a 95% percentile-bootstrap CI "
             f"(seed {rows[0]['bootstrap_seed'] if rows else 0}, 2,000 resamples); macro-F1 and UAR over the "
             "task's labels; parse failures count as wrong. McNemar: exact test over the samples both models "
             f"scored; the comparisons with the best model are Holm-corrected together, and `*` marks a model "
             f"significantly below the best (alpha {ALPHA}); tied models share rank 1 (# = 1 + the models "
             "significantly better).")
    lines = ["# Leaderboard", "", intro, ""]
    documents = (tasks or {}).get("tasks", {})
    for task in dict.fromkeys(row["task"] for row in rows):
        group = [row for row in rows if row["task"] == task]
        best = group[0]
        lines += [f"## {md(task)}", ""]
        if documents.get(task, {}).get("ties"):
            lines += [_ties_line(documents[task], md), ""]
        elif documents.get(task, {}).get("ranked") is False:
            lines += ["A probe: reported beside chance level, never ranked.", ""]
        table = []
        for row in group:
            low, high = row["accuracy_ci"]
            table.append(["–" if row["rank"] is None else row["rank"], md(row["model"]), row["mode"], row["n"],
                          f"{row['accuracy']:.3f} [{low:.3f}, {high:.3f}]", _tied(row.get("tied_with_best")),
                          fixed(row["macro_f1"]), fixed(row["uar"]), f"{row['parse_failure_rate']:.3f}",
                          _versus(row, best)])
        lines.append(tabulate(table, headers=["#", "model", "mode", "n", "accuracy [95% CI]", "tied with best",
                                              "macro-F1", "UAR", "parse fail",
                                              f"McNemar p vs {md(best['model'])}"], tablefmt="github",
                              disable_numparse=True))
        lines.append("")
        if len(group) > 2:
            models = [row["model"] for row in group]
            matrix = [[md(row["model"]), *("" if other == row["model"] else
                                           (p_text(row["mcnemar"][other]) if other in row["mcnemar"] else "–")
                                           for other in models)] for row in group]
            lines += ["Pairwise exact McNemar p-values (uncorrected):", "",
                      tabulate(matrix, headers=["", *map(md, models)], tablefmt="github", disable_numparse=True), ""]
        if any(row.get("ece") is not None for row in group):
            table = [[md(row["model"]), row.get("calibration_n") or "–", _ci(row.get("ece"), row.get("ece_ci")),
                      _ci(row.get("brier"), row.get("brier_ci")), _ci(row.get("nll"), row.get("nll_ci"))]
                     for row in group]
            lines += ["Calibration (softmax of the per-label scores; \"–\": the run carries no scores):", "",
                      tabulate(table, headers=["model", "n", "ECE (15 bins) [95% CI]", "Brier [95% CI]",
                                               "NLL [95% CI]"], tablefmt="github", disable_numparse=True), ""]
        table = [[md(row["model"]), row.get("answered"), md(row.get("top_label") or "–"),
                  _ci(row.get("top_label_share"), row.get("top_label_share_ci")) +
                  (" (flagged)" if row.get("top_label_flag") else ""),
                  _ci(row.get("tv_distance"), row.get("tv_distance_ci"))] for row in group]
        lines += ["Answer health (readable answers; flagged: one label holds half of them or more):", "",
                  tabulate(table, headers=["model", "answered", "most frequent answer", "its share [95% CI]",
                                           "TV distance to gold [95% CI]"], tablefmt="github",
                           disable_numparse=True), ""]
        lines += task_markdown(task, documents.get(task))
        extra = [row for row in group if row.get("variants")]
        if extra:
            variants = sorted({v for row in extra for v in row["variants"]})
            table = [[md(row["model"]), *(fixed(row["variants"].get(v, {}).get("accuracy")) for v in variants),
                      fixed(row["variant_agreement"]["agreement"]), fixed(row["variant_agreement"]["fleiss_kappa"])]
                     for row in extra]
            lines += ["Accuracy per instruction variant, and agreement across them:", "",
                      tabulate(table, headers=["model", *map(md, variants), "same answer", "Fleiss' kappa"],
                               tablefmt="github", disable_numparse=True), ""]
        for plot in (plots or {}).get(task, []):
            lines.append(f"![{Path(plot).stem}]({plot})")
        if (plots or {}).get(task):
            lines.append("")
    if tasks and tasks.get("domains"):
        lines += domains_markdown(tasks["domains"], md)
    return "\n".join(lines).rstrip() + "\n"


CSV_COLUMNS = ("task", "rank", "model", "mode", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
               "tied_with_best", "p_vs_best", "p_vs_best_holm", "macro_f1", "uar", "parse_failure_rate",
               "parse_failures", "answered", "top_label", "top_label_share", "top_label_share_ci_low",
               "top_label_share_ci_high", "top_label_flag", "tv_distance", "tv_distance_ci_low", "tv_distance_ci_high",
               "calibration_n", "ece", "ece_ci_low", "ece_ci_high", "brier", "brier_ci_low", "brier_ci_high", "nll",
               "nll_ci_low", "nll_ci_high", "mcnemar", "train_fraction", "task_hash", "source", "leaked")


def flat_figures(row: dict) -> dict:
    """A row's figures with every ``*_ci`` pair written as ``*_ci_low`` and ``*_ci_high`` (``None`` when the
    figure does not apply)."""
    flat = {}
    for key, value in row.items():
        if key.endswith("_ci"):
            low, high = value if isinstance(value, (list, tuple)) and len(value) == 2 else (None, None)
            flat[f"{key}_low"], flat[f"{key}_high"] = low, high
        else:
            flat[key] = value
    return flat


def csv_frame(rows: list[dict]):
    """The rows flattened for ``leaderboard.csv`` (McNemar p-values as a JSON object per row; CIs as low and
    high columns); text that a spreadsheet would run as a formula is written with a leading ``'``
    (:func:`benchmarks.board.escape.csv_cell`)."""
    import pandas as pd

    from benchmarks.board.escape import csv_cell

    flat = [{**{k: csv_cell(v) for k, v in flat_figures(row).items() if k in CSV_COLUMNS},
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


#: Per-task and cross-task results beside ``leaderboard.json``.
TASKS_FILE = "leaderboard_tasks.json"


def task_sections(runs: list[RunRecord], rows: list[dict], documents: dict[str, dict],
                  data: dict | None = None) -> None:
    """Add to each task's document (``documents``, by task) the sections computed from the task's per-image data
    (human votes, slices, polarity errors, probes: :mod:`benchmarks.score.task_data`) and from the judges'
    verdicts, and to ``rows`` the per-run keys of those sections (:func:`benchmarks.score.sections.row_figures`).
    ``data`` is the ``data.*`` options for runs whose folders carry no ``sample_data.jsonl``."""
    from benchmarks.score.judges import judges_section
    from benchmarks.score.probes import probes_section
    from benchmarks.score.sections import row_figures
    from benchmarks.score.slices import polarity_errors_section, slices_section
    from benchmarks.score.task_data import task_contexts
    from benchmarks.score.votes import human_votes_section

    contexts = task_contexts(runs, data)
    for task, document in documents.items():
        group = [run for run in runs if run.task == task]
        context = contexts[task]
        # the task file's labels where the runs' labels are among them (an imported run names only those it holds)
        document.update(labels=list(context.labels), chance=1 / len(context.labels))
        document["human_votes"] = human_votes_section(task, group, context)
        document["slices"] = slices_section(task, group, context)
        document["polarity_errors"] = polarity_errors_section(task, group, context)
        document["probes"] = probes_section(task, group, context)
        document["judges"] = judges_section({run.model: run.judge for run in group if run.judge})
    for row in rows:
        row.update(row_figures(documents.get(row["task"]), row["model"]))


def write_leaderboard(paths, out: str | Path, *, seed: int = 0, plots: bool = True, warn=warn_line,
                      root: str | Path | None = None, in_domain=IN_DOMAIN,
                      data: dict | None = None) -> list[dict]:
    """Rebuild the leaderboard of the runs under ``paths`` into ``out`` (``leaderboard.json``,
    :data:`TASKS_FILE`, ``.csv``, ``.md``, ``index.html``, ``plots/`` and :data:`LOCAL_SOURCES`); returns the rows.
    ``in_domain`` names the tasks the in- vs out-of-domain summary counts as in-domain; ``data`` the task data
    of runs whose folders carry none (``data.build``, ``data.roots.*``). Every file lies
    inside ``out`` whatever the model and task names hold (plots are named by :mod:`schemas.names`)."""
    from benchmarks.board.folders import output_folder, writing
    from benchmarks.board.page import write_page
    from schemas.predictions import validate_leaderboard_rows
    from schemas.runinfo import write_json

    check_seed(seed)
    in_domain = check_in_domain(in_domain)
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"{out}: exists and is not a folder (--out names the folder for the leaderboard)")
    runs = collect_runs(paths, warn=warn, root=root)
    rows, tasks = leaderboard(runs, seed=seed, in_domain=in_domain, data=data)
    validate_leaderboard_rows(rows)
    out = output_folder(out, "the leaderboard")
    written: dict[str, list[str]] = {}
    images: dict[tuple[str, str], Path] = {}
    with writing("the leaderboard", out):
        if plots:
            from benchmarks.board.plots import write_plots

            written, images = write_plots(rows, out / "plots")
        write_json(out / "leaderboard.json", rows)
        write_json(out / TASKS_FILE, tasks)
        write_json(out / LOCAL_SOURCES, local_sources(runs))
        csv_frame(rows).to_csv(out / "leaderboard.csv", index=False)
        (out / "leaderboard.md").write_text(markdown(rows, {t: [Path(p).relative_to(out).as_posix() for p in ps]
                                                            for t, ps in written.items()}, tasks),
                                            encoding="utf-8")
        write_page(rows, out / "index.html", tasks=tasks, images=images)
    return rows


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench leaderboard``'s arguments."""
    parser.description = ("Recompute every figure from predictions.jsonl files (never the models, never a stored "
                          "metrics.json); writes leaderboard.md/.csv/.json, leaderboard_tasks.json (ties, minimum "
                          "detectable difference, in- vs out-of-domain summary), index.html and plots.")
    parser.add_argument("--runs", nargs="+", required=True, metavar="DIR",
                        help="run directories, folders holding them, or predictions.jsonl files")
    parser.add_argument("--out", required=True, help="folder for leaderboard.md, .csv, .json and plots/")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--in-domain", default=",".join(IN_DOMAIN), metavar="TASK[,TASK]",
                        help="tasks the in- vs out-of-domain summary counts as in-domain (the first one present is "
                             "the model's in-domain accuracy); held-out tasks present are out-of-domain "
                             f"(default {','.join(IN_DOMAIN)})")
    parser.add_argument("--data", nargs="+", default=[], metavar="data.KEY=VALUE",
                        help="task data for runs whose folders carry no sample_data.jsonl: data.build=BUILD, "
                             "data.roots.<task or dataset>=PATH")
    parser.set_defaults(handler=run)


def run(args) -> int:
    check_seed(args.seed)
    from benchmarks.data.sample_data import parse_data_options

    rows = write_leaderboard(args.runs, args.out, seed=args.seed, plots=not args.no_plots,
                             in_domain=check_in_domain(args.in_domain), data=parse_data_options(args.data))
    print(f"{len(rows)} rows -> {args.out}/leaderboard.md, leaderboard.csv, leaderboard.json, {TASKS_FILE}, "
          "index.html")
    return 0


__all__ = ["IN_DOMAIN", "LOCAL_SOURCES", "TASKS_FILE", "check_in_domain", "check_seed", "checkpoint_names",
           "hub_id", "leaderboard", "markdown", "write_leaderboard"]
