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
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.board.folders import is_inside
from schemas.errors import UsageError

PREDICTIONS = "predictions.jsonl"

#: McNemar p-values below this are marked as significant in ``leaderboard.md``.
ALPHA = 0.05


@dataclass
class RunRecord:
    """The predictions of one model on one task, where they came from, and their run config (if any).

    ``source`` is the predictions file on this machine; ``shown`` the same file as ``leaderboard.json``
    records it (relative to the folder given to ``--runs``, led by that folder's name: never a local path).
    ``label_set`` is the task's label set once every run of the task has been read (:func:`collect_runs`).
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


@dataclass(frozen=True)
class FoundFile:
    """A ``predictions.jsonl`` found under a ``--runs`` argument: its path as found (symlinks not resolved)
    and how the leaderboard names it (relative to that argument, led by its folder name)."""

    path: Path
    shown: str


def _walk(root: Path, warn) -> list[Path]:
    """Every ``predictions.jsonl`` under ``root``. A symlink (to a folder or to a predictions file) is
    followed when its target stays inside ``root``, and skipped with a ``warn`` line saying why otherwise;
    a folder reached twice is read once."""
    real_root = os.path.realpath(root)
    seen = {real_root}
    found, stack = [], [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            warn(f"skipped {folder}: cannot list it ({exc.strerror})")
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                wanted = is_dir or (entry.name == PREDICTIONS and entry.is_file())
            except OSError:
                continue
            if not wanted:
                continue
            if entry.is_symlink() and not is_inside(path, root):
                warn(f"skipped {path}: a symlink to a place outside {root} (name the target in --runs to read it)")
                continue
            if is_dir:
                real = os.path.realpath(path)
                if real not in seen:
                    seen.add(real)
                    stack.append(path)
            else:
                found.append(path)
    return sorted(found)


def _shown(path: Path, root: Path | None) -> str:
    """How ``leaderboard.json`` names a predictions file: relative to ``root`` led by its name when it lies
    there, else by its run folder and the folder above (``<model>/<task>/predictions.jsonl``)."""
    if root is not None and path.is_relative_to(root):
        return f"{root.name}/{path.relative_to(root).as_posix()}"
    return "/".join(part for part in (path.parent.parent.name, path.parent.name, path.name) if part)


def prediction_files(paths, *, warn=None, root: str | Path | None = None) -> list[FoundFile]:
    """``predictions.jsonl`` files: a file given directly, a run directory, or every one under a folder
    (symlinks followed while they stay inside it, see :func:`_walk`). The same file reached twice is read once.
    Files found in a folder are named relative to it; files and run directories given directly relative to
    ``root`` (when they lie there) or by their two folders."""
    warn = warn or _warn
    root = Path(os.path.abspath(root)) if root is not None else None
    found: list[FoundFile] = []
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.is_file():
            found.append(FoundFile(path, _shown(path, root)))
        elif (path / PREDICTIONS).is_file():
            found.append(FoundFile(path / PREDICTIONS, _shown(path / PREDICTIONS, root)))
        elif path.is_dir():
            found += [FoundFile(p, f"{path.name}/{p.relative_to(path).as_posix()}") for p in _walk(path, warn)]
        else:
            raise UsageError(f"{given}: no such run directory or predictions file")
    first: dict[str, FoundFile] = {}
    for item in found:
        first.setdefault(os.path.realpath(item.path), item)
    unique = list(first.values())
    if not unique:
        raise UsageError(f"no predictions.jsonl under {', '.join(str(p) for p in paths)}")
    return unique


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _judge(path: Path) -> list[dict] | None:
    from schemas.jsonlines import BadLine, parse_lines, read_text

    judge_path = path.parent / "judge.jsonl"
    if not judge_path.is_file():
        return None
    try:
        verdicts = list(parse_lines(read_text(judge_path)))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{judge_path}: unreadable judge verdicts ({exc})") from None
    for number, verdict in verdicts:
        if not isinstance(verdict, dict):
            reason = verdict.message if isinstance(verdict, BadLine) else "not a JSON object"
            raise UsageError(f"{judge_path}:{number}: unreadable judge verdict ({reason})")
    return [verdict for _, verdict in verdicts]


def collect_runs(paths, *, warn=_warn, root: str | Path | None = None) -> list[RunRecord]:
    """Read and validate every prediction file; one :class:`RunRecord` per (model, task).

    A line the reader cannot accept is a :class:`~schemas.errors.UsageError` naming its file and line; an
    unreadable ``config.json`` is one ``warn`` line and the run is read without it; an empty predictions file
    is one ``warn`` line and no row. Runs of one task must share its label set (:func:`settle_labels`).
    """
    from schemas.predictions import config_labels, read_predictions, read_run_config

    runs: dict[tuple[str, str], RunRecord] = {}
    empty = []
    for found in prediction_files(paths, warn=warn, root=root):
        path = found.path
        config, _ = read_run_config(path.parent)
        loaded = read_predictions(path, config_labels(config))
        for warning in loaded.warnings:
            warn(warning)
        if loaded.lines == 0:
            warn(f"{path}: no predictions (the file is empty); no row for it")
            empty.append(path)
            continue
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
            runs[key] = RunRecord(key[0], key[1], groups[key], path, config, judge, found.shown)
    if not runs:
        raise UsageError(f"no predictions to rank: {', '.join(map(str, empty))} "
                         f"{'is' if len(empty) == 1 else 'are'} empty")
    _refuse_mixed_task_versions(list(runs.values()))
    settle_labels(list(runs.values()))
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


def _observed(run: RunRecord, field: str = "both") -> set[str]:
    from schemas.predictions import label_key

    values = [r["gold"] for r in run.rows] if field != "pred" else []
    values += [r["pred"] for r in run.rows if r["pred"]] if field != "gold" else []
    return {label_key(value) for value in values}


def _named(run: RunRecord) -> str:
    return f"{run.model} ({run.source})"


def settle_labels(runs: list[RunRecord]) -> None:
    """Give every run of a task the task's one label set, spelled one way, or refuse.

    Runs that share a task name are ranked in one table, so they must answer the same question: the label
    sets their run configs declare must be equal (compared by name, trimmed and case-folded); a run without a
    declaration must use only labels of the declared set; without any declaration, the runs' gold labels
    must be the same set. Anything else is one :class:`UsageError` naming both runs: such runs are never
    compared. Labels are then written in the declared spelling (else the one used most).
    """
    from schemas.predictions import canonical_labels, canonical_spellings, config_labels, label_key

    by_task: dict[str, list[RunRecord]] = {}
    for run in runs:
        by_task.setdefault(run.task, []).append(run)
    for task, group in sorted(by_task.items()):
        declared = [(run, config_labels(run.config)) for run in group if config_labels(run.config)]
        if declared:
            first, labels = declared[0]
            keys = {label_key(label) for label in labels}
            for run, other in declared[1:]:
                if {label_key(label) for label in other} != keys:
                    raise UsageError(f"task {task}: {_named(first)} has {len(labels)} labels ({', '.join(labels)}) "
                                     f"and {_named(run)} has {len(other)} ({', '.join(other)}); runs with different "
                                     "label sets are never compared: give one of them another task name")
            for run in group:
                outside = sorted(_observed(run) - keys)
                if outside:
                    raise UsageError(f"task {task}: {_named(run)} uses label(s) {', '.join(outside)} that the task "
                                     f"of {_named(first)} does not have ({', '.join(labels)}); runs with different "
                                     "label sets are never compared: give one of them another task name")
        else:
            first = group[0]
            for run in group[1:]:
                if _observed(run, "gold") != _observed(first, "gold"):
                    raise UsageError(f"task {task}: the gold labels of {_named(first)} "
                                     f"({', '.join(sorted(_observed(first, 'gold')))}) and of {_named(run)} "
                                     f"({', '.join(sorted(_observed(run, 'gold')))}) differ and no run config "
                                     "declares the task's labels (task.labels); runs with different label sets are "
                                     "never compared")
            spellings = canonical_spellings(value for run in group for row in run.rows
                                            for value in (row["gold"], row["pred"]))
            labels = tuple(sorted(set(spellings.values())))
        spellings = {label_key(label): label for label in labels}
        for run in group:
            canonical_labels(run.rows, spellings)
            run.label_set = tuple(labels)


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
    from benchmarks.score.metrics import bootstrap_ci, classification_metrics, variant_agreement

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
    training = _mapping(config.get("training"))
    model = _mapping(config.get("model"))
    imported = _mapping(config.get("imported"))
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
        "train_fraction": _fraction(_mapping(training.get("config")).get("train_fraction")) if training else None,
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
    """``leaderboard.md``: a table per task (best first), McNemar against the best, pairwise p-values.
    Model, task and variant names are escaped as Markdown text (:func:`benchmarks.escape.markdown_text`)."""
    from tabulate import tabulate

    from benchmarks.board.escape import markdown_text as md

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
    spreadsheet would run as a formula is written with a leading ``'`` (:func:`benchmarks.escape.csv_cell`)."""
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


def write_leaderboard(paths, out: str | Path, *, seed: int = 0, plots: bool = True, warn=_warn,
                      root: str | Path | None = None) -> list[dict]:
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
    validate_leaderboard_rows(rows)
    out = output_folder(out, "the leaderboard")
    written: dict[str, list[str]] = {}
    with writing("the leaderboard", out):
        if plots:
            from benchmarks.board.plots import write_plots

            written = write_plots(rows, out / "plots")
        write_json(out / "leaderboard.json", rows)
        write_json(out / LOCAL_SOURCES, local_sources(runs))
        csv_frame(rows).to_csv(out / "leaderboard.csv", index=False)
        (out / "leaderboard.md").write_text(markdown(rows, {t: [Path(p).relative_to(out).as_posix() for p in ps]
                                                            for t, ps in written.items()}), encoding="utf-8")
        write_page(rows, out / "index.html")
    return rows


__all__ = ["LOCAL_SOURCES", "FoundFile", "RunRecord", "check_seed", "checkpoint_names", "collect_runs", "hub_id",
           "leaderboard_rows", "markdown", "prediction_files", "reparse", "run_figures", "settle_labels",
           "write_leaderboard"]
