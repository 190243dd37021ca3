"""``emovit bench import``: other harnesses' saved outputs as our run folders, for the leaderboard to re-score.

One module per tool (:mod:`benchmarks.interop.importers`, registered in its ``IMPORTERS``) reads that tool's
files, exactly as the tool writes them, into :class:`~benchmarks.interop.foreign.ForeignRun` values (the answer
text, the gold answer and an id per sample); this module turns them into run folders of our
contract (``RUNS/<model>/<task>/predictions.jsonl`` and ``config.json``, :mod:`schemas.predictions`).
The foreign tool's own scores and metric fields are never read: ``raw`` holds the answer text, and
``bench leaderboard`` reads every ``raw`` again with our parser (which never guesses).

Every foreign sample ends in ``predictions.jsonl`` or in the run's ``quarantine.jsonl`` with a reason (a gold
answer that is none of the task's labels, or none at all, or an id read before); ``config.json`` records the counts, which add up,
and the source files with their sha256.

Model and task names from the tools' files are data, never paths: the run folders are named by
:func:`schemas.names.unique_names` (``RUNS/<model>/<task>/``, plain names kept as they are), a model name that
is a local checkpoint path becomes its last folder name, and a foreign task name is looked up among our
packaged tasks only (case and surrounding spaces ignored), never opened as a file. An import writes only
into run folders it made: a folder of ``RUNS`` that holds anything else (a run of our harness) is refused.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.interop.foreign import ForeignRun
from schemas.errors import UsageError


@dataclass
class ImportedRun:
    """What :func:`import_runs` wrote for one foreign run."""

    folder: Path
    model: str
    task: str
    written: int
    quarantined: int


#: The files an import writes into a run folder (an existing folder holding only these is replaced).
IMPORT_FILES = frozenset({"predictions.jsonl", "config.json", "quarantine.jsonl"})


def model_label(name: str) -> str:
    """A model name fit for the leaderboard: a local checkpoint path (``/home/me/llava-7b``,
    ``C:\\ckpt\\x``, ``./runs/x``) becomes its last folder name; anything else stays as it is."""
    text = name.strip()
    looks_local = (text.startswith(("/", "~", "\\", "./", "../")) or re.match(r"^[A-Za-z]:[\\/]", text)
                   or "\\" in text or text.count("/") > 1)
    if not looks_local:
        return name
    parts = [part for part in re.split(r"[\\/]+", text) if part not in ("", ".", "..", "~")]
    return parts[-1] if parts else "model"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _our_task(name: str | None, *, paths: bool = False):
    """Our packaged task of that name (case and surrounding spaces ignored), or, with ``paths`` (a ``--task``
    the user typed), a task file; ``None`` when there is none. A foreign name is never opened as a file."""
    from benchmarks.spec.task import load_task, packaged_tasks

    if not isinstance(name, str):
        return None
    packaged = {key.casefold(): key for key in packaged_tasks()}
    if name.strip().casefold() in packaged:
        return load_task(packaged[name.strip().casefold()])
    if paths and (name.endswith((".yaml", ".yml")) or Path(name).is_file()):
        return load_task(name)
    return None


def _distinct(labels) -> tuple[str, ...]:
    """Labels trimmed, blank ones dropped, one per name compared without case (the first spelling kept)."""
    found: dict[str, str] = {}
    for label in labels:
        if isinstance(label, str) and label.strip():
            found.setdefault(label.strip().casefold(), label.strip())
    return tuple(found.values())


def _labels_for(run: ForeignRun, task) -> tuple[str, ...]:
    if task is not None:
        return tuple(task.labels)
    if run.labels and _distinct(run.labels):
        return _distinct(run.labels)
    found = _distinct(sorted({s.gold.strip() for s in run.samples if s.gold and s.gold.strip()}))
    if not found:
        raise UsageError(f"{run.files[0]}: no gold answers to take labels from; pass --task")
    return found


def _check_task(name: str | None) -> None:
    if name is not None and _our_task(name, paths=True) is None:
        from benchmarks.spec.task import packaged_tasks

        raise UsageError(f"--task {name}: not one of our tasks ({', '.join(sorted(packaged_tasks()))}) "
                         "or a task file")


def convert(run: ForeignRun, *, task_name: str | None = None) -> tuple[dict, list[dict], list[dict]]:
    """``(config, prediction lines, quarantine lines)`` of a foreign run in our contract.

    ``task_name`` (``--task``) files the run under one of our tasks (its labels); without it the tool's task
    name is used, with our task's labels when we have a task of that name, else the labels the run offers
    (its options) or, last, its distinct gold answers. Gold answers are matched to labels ignoring case
    and surrounding spaces.
    """
    from schemas.protocol import parse_answer

    _check_task(task_name)
    task = _our_task(task_name, paths=True) if task_name is not None else _our_task(run.task)
    labels = _labels_for(run, task)
    by_key = {label.strip().casefold(): label for label in labels}
    name = task.name if task is not None else run.task
    lines, quarantine, seen, letters = [], [], {}, 0
    for sample in run.samples:
        if sample.id in seen:
            quarantine.append({"id": sample.id, "source": sample.where, "reason": f"id already read at {seen[sample.id]}"})
            continue
        seen[sample.id] = sample.where
        gold = by_key.get(sample.gold.strip().casefold()) if sample.gold is not None else None
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


def read_foreign(tool: str, paths, *, model: str | None = None, task: str | None = None,
                 note=print) -> list[ForeignRun]:
    """The runs in ``paths`` (files or folders) as ``tool`` wrote them; ``note`` hears of files passed over."""
    from benchmarks.interop.importers import IMPORTERS

    if tool not in IMPORTERS:
        raise UsageError(f"--from {tool}: choose one of {', '.join(IMPORTERS)}")
    runs = IMPORTERS.load(tool)([Path(p) for p in paths], model=model, task=task, note=note)
    if not runs:
        raise UsageError(f"no {tool} outputs under {', '.join(str(p) for p in paths)}")
    return runs


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _refusal(folder: Path, out: Path) -> str | None:
    """Why ``folder`` (a run folder under ``out``) must not be written by an import, or ``None``."""
    from benchmarks.board.folders import is_inside
    from schemas.predictions import read_run_config

    if not is_inside(folder, out):
        return f"leads outside {out} (a symlink); refusing to write there"
    if not folder.exists():
        return None
    if not folder.is_dir():
        return "exists and is not a folder"
    present = sorted(p.name for p in folder.iterdir())
    if not present:
        return None
    config, _ = read_run_config(folder)
    if not isinstance((config or {}).get("imported"), dict):
        return "holds a run that 'emovit bench import' did not write (its config.json has no 'imported')"
    extra = [name for name in present if name not in IMPORT_FILES]
    if extra:
        return f"holds files an import does not write ({', '.join(extra[:3])})"
    return None


def import_runs(tool: str, paths, out: str | Path, *, task: str | None = None, model: str | None = None,
                log=print, warn=_warn) -> list[ImportedRun]:
    """Convert ``tool``'s outputs under ``paths`` into run folders under ``out``; returns what was written.

    A folder ``out/<model>/<task>/`` written by an earlier import is replaced by a new import of the same run;
    any other existing folder there is refused before anything is written (one line), and so are two foreign
    runs that land in one folder (the same model on two tasks filed under one ``--task``). A run without
    samples is one ``warn`` line naming its file; an import with nothing to write is refused.
    """
    from benchmarks.board.folders import inside, output_folder, writing
    from schemas.jsonlines import write_lines
    from schemas.names import org_name_text, unique_names
    from schemas.runinfo import write_json

    _check_task(task)
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"{out}: exists and is not a folder (--out names the folder for the run folders)")
    runs = read_foreign(tool, paths, model=model, task=task, note=log)
    for run in runs:
        run.model = model_label(run.model) or "model"
    kept = []
    for run in runs:
        if run.samples:
            kept.append(run)
        else:
            warn(f"{run.files[0]}: no samples in this {tool} output; nothing imported from it")
    if not kept:
        raise UsageError(f"nothing to import: the {tool} outputs under {', '.join(str(p) for p in paths)} hold no "
                         "samples")
    converted = [(run, *convert(run, task_name=task)) for run in kept]
    model_names = unique_names({run.model: org_name_text(run.model) for run in kept})
    task_names = unique_names({config["task"]["name"]: config["task"]["name"] for _, config, _, _ in converted})
    out = output_folder(out, "the run folders")
    targets: dict[Path, ForeignRun] = {}
    for run, config, _, _ in converted:
        folder = inside(out, model_names[run.model], task_names[config["task"]["name"]])
        if folder in targets:
            files = ", ".join(str(p) for p in [*targets[folder].files, *run.files])
            raise UsageError(f"{run.model} on {config['task']['name']} comes from more than one {tool} output "
                             f"({files}); import them one at a time into different --out folders")
        reason = _refusal(folder, out)
        if reason:
            raise UsageError(f"{folder}: {reason}; import into another --out folder")
        targets[folder] = run
    written = []
    with writing("the imported runs", out):
        for (run, config, lines, quarantine), folder in zip(converted, targets):
            folder.mkdir(parents=True, exist_ok=True)
            write_lines(folder / "predictions.jsonl", lines)
            write_json(folder / "config.json", config)
            path = folder / "quarantine.jsonl"
            if quarantine:
                write_lines(path, quarantine)
            elif path.exists():
                path.unlink()
            counts = config["imported"]
            log(f"{tool}: {run.model} on {config['task']['name']}: {counts['samples']} samples -> "
                f"{counts['written']} predictions, {counts['quarantined']} quarantined -> {folder}")
            if not lines:
                warn(f"{run.files[0]}: every sample of {run.model} on {config['task']['name']} was quarantined "
                     f"(see {path})")
            written.append(ImportedRun(folder, run.model, config["task"]["name"], counts["written"],
                                       counts["quarantined"]))
    return written


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench import``'s arguments."""
    from benchmarks.interop.importers import IMPORTERS

    parser.description = ("Convert lmms-eval sample logs or VLMEvalKit prediction files into run directories "
                          "(OUT/<model>/<task>/predictions.jsonl + config.json); 'bench leaderboard' then re-scores "
                          "their answer text with our parser, never the tool's own scores.")
    parser.add_argument("--from", dest="tool", required=True, choices=tuple(IMPORTERS))
    parser.add_argument("paths", nargs="+", metavar="PATH", help="output files or folders of that tool")
    parser.add_argument("--out", required=True, help="folder for the run directories")
    parser.add_argument("--task", help="file the runs under this task of ours (its labels); default: the "
                                       "tool's task or dataset name")
    parser.add_argument("--model", help="the runs' model name on the leaderboard (default: from the tool's "
                                        "files or folder names)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    runs = import_runs(args.tool, args.paths, args.out, task=args.task, model=args.model)
    print(f"{len(runs)} run(s) -> {args.out}; next: emovit bench leaderboard --runs {args.out} ... --out BOARD")
    return 0


__all__ = ["IMPORT_FILES", "ImportedRun", "convert", "import_runs", "model_label", "read_foreign"]
