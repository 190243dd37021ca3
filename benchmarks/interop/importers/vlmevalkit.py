"""VLMEvalKit's prediction files, as its inference writes them.

``<work_dir>/<model>/[<eval_id>/]<model>_<dataset>.xlsx`` (the default; ``PRED_FORMAT=tsv`` or ``json`` give
``.tsv``, written with every field quoted, or ``.json``, a list of records): every column of the dataset's TSV
except ``image`` (``index``, ``question``, the options ``A``, ``B``, ... of a multiple-choice set, ``answer``,
``category`` ...) plus ``prediction``, the model's answer text.

``id`` is ``index``; ``image_id`` is the row's ``image_id`` column when the dataset has one, else the id.
When that column names every row's image once (our own export, one row per image: its sample ids), it is the
id too, so imported runs pair with our own runs of the task, sample by sample. In a multiple-choice set ``answer`` is an option letter: the gold label is that
option's text. A prediction that is nothing but an option letter (``B``, ``(B)``, ``B.``) is replaced by that
option's text before our parser reads it; any other text is read as it is (so ``B. awe`` counts as awe and a
letter never overrides the words). A row without ``answer`` is quarantined; a row without ``prediction``
keeps an empty answer (a parse failure).

The file name joins model and dataset with ``_``, and both may contain ``_``. It is split where the dataset
part is known: after the name of a folder above the file that prefixes it (VLMEvalKit files its predictions
under ``<work_dir>/<model>/[<eval_id>/]``), else before a dataset name that ``--task`` or one of our packaged
tasks gives (compared without case: our export's ``EmoSet8`` is ``emoset8``), else after ``--model`` when the
name starts with it. ``--model`` only names the row on the leaderboard. Every cell is read as text
(``00005`` stays ``00005``; ``NA`` and ``None`` are answers, not missing values).

A work folder holds more than predictions: the score files VLMEvalKit's evaluation writes beside them
(``<model>_<dataset>_acc.csv``, ``..._exact_matching_result.xlsx``, ``..._score.json``, ``..._rating.json``
and the other intermediate files of :data:`SCORE_SUFFIXES`) are passed over, and the links VLMEvalKit makes
in ``<work_dir>/<model>/`` to the files of its latest ``<eval_id>/`` folder are read once.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from pathlib import Path

from benchmarks.interop.foreign import ForeignRun, ForeignSample
from schemas.errors import UsageError

TOOL = "vlmevalkit"
SUFFIXES = (".xlsx", ".tsv", ".json")
#: Name endings (before the extension) of the files VLMEvalKit's evaluation writes beside a prediction file
#: (``get_intermediate_file_path``): scores, judge results and caches, never predictions.
SCORE_SUFFIXES = ("_acc", "_acc_all", "_score", "_scores", "_result", "_results", "_rating", "_fine", "_metrics",
                  "_tmp", "_response", "_processed", "_config", "_meta", "_cotpost", "_checkpoint", "_PREV",
                  "_structs", "_status")
OTHER_FILES = ("status.json",)
#: A prediction that is only an option letter: ``B``, ``B.``, ``(B)``, ``B)``, ``B:``.
LETTER_ONLY = re.compile(r"^\s*\(?([A-Z])\)?\s*[.:)]?\s*$")


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def _text(value) -> str:
    """A cell as text (integers stay integers: ``3`` not ``3.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: Path):
    """The prediction file as a pandas frame (``.xlsx`` through openpyxl, ``.tsv``, ``.json`` records)."""
    import zipfile

    import pandas as pd

    try:
        if path.suffix == ".xlsx":
            return pd.read_excel(path, engine="openpyxl", dtype=str, keep_default_na=False)
        if path.suffix == ".tsv":
            return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8-sig")
        document = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(document, dict) and {"columns", "data"} <= set(document):
            return pd.DataFrame(document["data"], columns=document["columns"])
        if not (isinstance(document, list) and all(isinstance(r, dict) for r in document)):
            raise ValueError("expected a list of records")
        return pd.DataFrame(document)
    except ImportError:
        raise UsageError(f"{path}: reading .xlsx needs openpyxl (pip install 'emovit[bench]')") from None
    except (OSError, ValueError, KeyError, RecursionError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a readable VLMEvalKit prediction file ({type(exc).__name__}: "
                         f"{str(exc)[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl and pandas raise many types on damaged foreign files
        raise UsageError(f"{path}: not a readable VLMEvalKit prediction file ({type(exc).__name__}: "
                         f"{str(exc)[:160]})") from None


def is_score_file(path: Path) -> bool:
    """Whether ``path`` is one of the files VLMEvalKit's evaluation writes beside the predictions."""
    return path.name in OTHER_FILES or path.stem.endswith(SCORE_SUFFIXES)


def _dataset_names(task: str | None) -> list[str]:
    """Dataset names a file name may end with: ``--task`` (and its task file's name) and our packaged tasks."""
    from benchmarks.spec.task import packaged_tasks

    names = [] if task is None else [task, Path(task).stem]
    return [name for name in dict.fromkeys([*names, *packaged_tasks()]) if name]


def model_and_dataset(path: Path, model: str | None = None, task: str | None = None) -> tuple[str, str]:
    """Split the file name ``<model>_<dataset>`` where the dataset part is known (see the module docstring);
    ``model`` (``--model``) is used only when nothing else tells."""
    stem = path.stem
    for folder in Path(os.path.abspath(path)).parents:
        if folder.name and stem.startswith(f"{folder.name}_") and len(stem) > len(folder.name) + 1:
            return folder.name, stem[len(folder.name) + 1:]
    lowered = stem.casefold()
    for dataset in _dataset_names(task):
        if lowered.endswith(f"_{dataset.casefold()}") and len(stem) > len(dataset) + 1:
            return stem[: -len(dataset) - 1], stem[-len(dataset):]
    if model is not None and stem.startswith(f"{model}_") and len(stem) > len(model) + 1:
        return model, stem[len(model) + 1:]
    raise UsageError(f"{path}: cannot tell the model from the dataset in '{stem}': pass --task (our task the "
                     "dataset part names) or keep the file under its <work_dir>/<model>/ folder")


def read_file(path: Path, *, model: str | None = None, task: str | None = None) -> ForeignRun:
    """One prediction file as a :class:`ForeignRun` (its options, in letter order, are the labels); ``model``
    names the run (default: the model part of the file name)."""
    if is_score_file(path):
        raise UsageError(f"{path}: a score file of VLMEvalKit's evaluation, not its predictions "
                         f"(<model>_<dataset>{path.suffix})")
    file_model, dataset = model_and_dataset(path, model, task)
    name = model or file_model
    frame = read_table(path)
    missing = [c for c in ("index", "prediction") if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: no {', '.join(missing)} column; not a VLMEvalKit prediction file")
    letters = [c for c in string.ascii_uppercase if c in frame.columns]
    options: list[str] = []
    samples = []
    for position, row in enumerate(frame.to_dict("records")):
        where = f"{path}: row {position + 2}" if path.suffix != ".json" else f"{path}: record {position}"
        if _blank(row["index"]):
            raise UsageError(f"{where}: no index")
        choices = {c: _text(row[c]) for c in letters if not _blank(row[c])}
        options += [text for text in choices.values() if text not in options]
        answer = None if "answer" not in row or _blank(row["answer"]) else _text(row["answer"])
        gold = choices.get(answer, answer) if answer is not None else None
        raw = "" if _blank(row["prediction"]) else str(row["prediction"])
        letter = LETTER_ONLY.match(raw)
        mapped = letter is not None and letter.group(1) in choices
        image_id = _text(row["image_id"]) if "image_id" in row and not _blank(row["image_id"]) else None
        samples.append(ForeignSample(_text(row["index"]), gold, choices[letter.group(1)] if mapped else raw, where,
                                     image_id=image_id, letter=mapped))
    image_ids = [sample.image_id for sample in samples]
    if all(image_ids) and len(set(image_ids)) == len(image_ids):
        for sample in samples:
            sample.id = sample.image_id
    details = {"dataset": dataset, "file_model": file_model, "format": path.suffix.lstrip("."), "options": letters,
               "ids": "image_id" if all(image_ids) and len(set(image_ids)) == len(image_ids) else "index"}
    return ForeignRun(TOOL, name, dataset, samples, [path], details, tuple(options) or None)


def read(paths: list[Path], *, model: str | None = None, task: str | None = None, note=print) -> list[ForeignRun]:
    """Every prediction file under ``paths`` (``.xlsx``, ``.tsv``, ``.json``). A file given by name must be
    one; in a folder (searched recursively) score files are passed over, every other file of those types that
    is not a prediction file with a ``note`` saying why, and a file reached twice (VLMEvalKit's links to its
    latest run) is read once."""
    runs, seen = [], set()
    for path in paths:
        if path.is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and not is_score_file(p)
                           and p.is_file())
        else:
            raise UsageError(f"{path}: no such file or folder")
        for file in found:
            real = os.path.realpath(file)
            if real in seen:
                continue
            seen.add(real)
            try:
                runs.append(read_file(file, model=model, task=task))
            except UsageError as exc:
                if file is path:
                    raise
                note(f"skipped: {exc}")
    return runs


__all__ = ["LETTER_ONLY", "SCORE_SUFFIXES", "TOOL", "is_score_file", "model_and_dataset", "read", "read_file",
           "read_table"]
