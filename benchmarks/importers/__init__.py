"""``emovit bench import``: other harnesses' saved outputs as our run folders, for the leaderboard to re-score.

One module per tool reads that tool's files, exactly as the tool writes them, into :class:`ForeignRun` values
(the answer text, the gold answer and an id per sample); this module turns them into run folders of our
contract (``RUNS/<model>/<task>/predictions.jsonl`` and ``config.json``, :mod:`schemas.predictions`).
The foreign tool's own scores and metric fields are never read: ``raw`` holds the answer text, and
``bench leaderboard`` reads every ``raw`` again with our parser (which never guesses).

========== ================================== =======================================================
tool       module                             files
========== ================================== =======================================================
lmms-eval  :mod:`benchmarks.importers.lmms_eval`  ``<model>/<date>_samples_<task>.jsonl`` (>= 0.3) and
                                                  ``<task>.json`` with ``logs`` (<= 0.2.3)
vlmevalkit :mod:`benchmarks.importers.vlmevalkit` ``<model>_<dataset>.xlsx`` / ``.tsv`` / ``.json``
========== ================================== =======================================================

Every foreign sample ends in ``predictions.jsonl`` or in the run's ``quarantine.jsonl`` with a reason (a gold
answer that is none of the task's labels, or none at all, or an id read before); ``config.json`` records the counts, which add up,
and the source files with their sha256.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import UsageError

#: tool name -> module reading its files (each has ``read(paths, *, model=None, note=print) -> list[ForeignRun]``).
IMPORTERS: dict[str, str] = {
    "lmms-eval": "benchmarks.importers.lmms_eval",
    "vlmevalkit": "benchmarks.importers.vlmevalkit",
}


@dataclass
class ForeignSample:
    """One answered sample as the other tool saved it.

    ``gold`` is the tool's gold answer (``None`` when it has none); ``raw`` the answer text to parse;
    ``where`` names the file and line or row it came from; ``letter`` whether ``raw`` was a bare option
    letter the reader replaced with its option's text.
    """

    id: str
    gold: str | None
    raw: str
    where: str
    image_id: str | None = None
    letter: bool = False


@dataclass
class ForeignRun:
    """One model's answers to one task of the other tool, with what the tool recorded about the run."""

    tool: str
    model: str
    task: str
    samples: list[ForeignSample]
    files: list[Path]
    details: dict = field(default_factory=dict)
    labels: tuple[str, ...] | None = None


@dataclass
class ImportedRun:
    """What :func:`import_runs` wrote for one foreign run."""

    folder: Path
    model: str
    task: str
    written: int
    quarantined: int


def folder_name(model: str) -> str:
    """A model name as one folder name (``org/model`` -> ``org__model``, as lmms-eval names its folders)."""
    return re.sub(r"[\\/:*?\"<>|]+", "__", model).strip(". ") or "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _our_task(name: str | None):
    """Our packaged task of that name (or task file path), or ``None`` when there is none."""
    from benchmarks.task import load_task, packaged_tasks

    if name is None:
        return None
    if name in packaged_tasks() or Path(name).is_file():
        return load_task(name)
    return None


def _labels_for(run: ForeignRun, task) -> tuple[str, ...]:
    if task is not None:
        return tuple(task.labels)
    if run.labels:
        return run.labels
    found = sorted({s.gold.strip() for s in run.samples if s.gold and s.gold.strip()})
    if not found:
        raise UsageError(f"{run.files[0]}: no gold answers to take labels from; pass --task")
    return tuple(found)


def _check_task(name: str | None) -> None:
    if name is not None and _our_task(name) is None:
        from benchmarks.task import packaged_tasks

        raise UsageError(f"--task {name}: not one of our tasks ({', '.join(sorted(packaged_tasks()))}) "
                         "or a task file")


def convert(run: ForeignRun, *, task_name: str | None = None) -> tuple[dict, list[dict], list[dict]]:
    """``(config, prediction lines, quarantine lines)`` of a foreign run in our contract.

    ``task_name`` (``--task``) files the run under one of our tasks (its labels); without it the tool's task
    name is used, with our task's labels when we have a task of that name, else the labels the run offers
    (its options) or, last, its distinct gold answers. Gold answers are matched to labels ignoring case
    and surrounding spaces.
    """
    from emovit_model.scoring import parse_answer

    _check_task(task_name)
    task = _our_task(task_name) if task_name is not None else _our_task(run.task)
    labels = _labels_for(run, task)
    by_key = {label.strip().lower(): label for label in labels}
    name = task.name if task is not None else run.task
    lines, quarantine, seen, letters = [], [], {}, 0
    for sample in run.samples:
        if sample.id in seen:
            quarantine.append({"id": sample.id, "source": sample.where, "reason": f"id already read at {seen[sample.id]}"})
            continue
        seen[sample.id] = sample.where
        gold = by_key.get(sample.gold.strip().lower()) if sample.gold is not None else None
        if gold is None:
            reason = ("no gold answer" if sample.gold is None or not sample.gold.strip() else
                      f"gold answer {sample.gold!r} is none of the task's labels ({', '.join(labels)})")
            quarantine.append({"id": sample.id, "source": sample.where, "reason": reason})
            continue
        letters += sample.letter
        lines.append({"id": sample.id, "image_id": sample.image_id or sample.id, "model": run.model, "task": name,
                      "gold": gold, "pred": parse_answer(sample.raw, labels).label, "raw": sample.raw, "scores": None})
    config = {
        "model": {"name": run.model},
        "task": {"name": name, "labels": list(labels), "foreign_name": run.task},
        "imported": {"tool": run.tool, "files": [{"path": str(p.resolve()), "sha256": _sha256(p)} for p in run.files],
                     "samples": len(run.samples), "written": len(lines), "quarantined": len(quarantine),
                     "letters_mapped": letters, **run.details},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return config, lines, quarantine


def read_foreign(tool: str, paths, *, model: str | None = None, note=print) -> list[ForeignRun]:
    """The runs in ``paths`` (files or folders) as ``tool`` wrote them; ``note`` hears of files passed over."""
    if tool not in IMPORTERS:
        raise UsageError(f"--from {tool}: choose one of {', '.join(IMPORTERS)}")
    runs = importlib.import_module(IMPORTERS[tool]).read([Path(p) for p in paths], model=model, note=note)
    if not runs:
        raise UsageError(f"no {tool} outputs under {', '.join(str(p) for p in paths)}")
    return runs


def import_runs(tool: str, paths, out: str | Path, *, task: str | None = None, model: str | None = None,
                log=print) -> list[ImportedRun]:
    """Convert ``tool``'s outputs under ``paths`` into run folders under ``out``; returns what was written.

    A folder ``out/<model>/<task>/`` is replaced by a new import of the same run. Two foreign runs that land
    in one folder (the same model on two tasks filed under one ``--task``) are refused.
    """
    from schemas.runinfo import write_json

    out = Path(out)
    _check_task(task)
    runs = read_foreign(tool, paths, model=model, note=log)
    converted = [(run, *convert(run, task_name=task)) for run in runs]
    targets: dict[Path, ForeignRun] = {}
    for run, config, _, _ in converted:
        folder = out / folder_name(run.model) / config["task"]["name"]
        if folder in targets:
            files = ", ".join(str(p) for p in [*targets[folder].files, *run.files])
            raise UsageError(f"{run.model} on {config['task']['name']} comes from more than one {tool} output "
                             f"({files}); import them one at a time into different --out folders")
        targets[folder] = run
    written = []
    for (run, config, lines, quarantine), folder in zip(converted, targets):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "predictions.jsonl").write_text("".join(json.dumps(line, ensure_ascii=False) + "\n"
                                                          for line in lines), encoding="utf-8")
        write_json(folder / "config.json", config)
        path = folder / "quarantine.jsonl"
        if quarantine:
            path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in quarantine), encoding="utf-8")
        elif path.exists():
            path.unlink()
        counts = config["imported"]
        log(f"{tool}: {run.model} on {config['task']['name']}: {counts['samples']} samples -> {counts['written']} "
            f"predictions, {counts['quarantined']} quarantined -> {folder}")
        written.append(ImportedRun(folder, run.model, config["task"]["name"], counts["written"], counts["quarantined"]))
    return written


__all__ = ["IMPORTERS", "ForeignRun", "ForeignSample", "ImportedRun", "convert", "folder_name", "import_runs",
           "read_foreign"]
