"""Run folders gathered for the leaderboard: every ``predictions.jsonl`` under the folders given, read and
validated, one :class:`~benchmarks.score.figures.RunRecord` per model and task, and one label set per task.

A run directory needs only ``predictions.jsonl`` (``config.json`` beside it adds provenance and the task's
label set), so predictions written by other tools join the leaderboard: a line needs ``id``, ``gold`` and
``pred`` (or ``raw``), see :mod:`schemas.predictions`. A prediction file may hold several models and tasks;
each (model, task) must come from one file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.board.folders import is_inside
from benchmarks.score.figures import RunRecord
from schemas.errors import UsageError

PREDICTIONS = "predictions.jsonl"


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
    warn = warn or warn_line
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


def warn_line(text: str) -> None:
    """A warning about a file that was read, as one line on stderr."""
    print(f"warning: {text}", file=sys.stderr)


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


def collect_runs(paths, *, warn=warn_line, root: str | Path | None = None) -> list[RunRecord]:
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


__all__ = ["PREDICTIONS", "FoundFile", "collect_runs", "prediction_files", "settle_labels", "warn_line"]
