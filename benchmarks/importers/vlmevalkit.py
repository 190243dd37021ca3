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

The file name joins model and dataset with ``_``, and both may contain ``_``: the model is ``--model`` when
given, else the name of the folder above the file that prefixes it (VLMEvalKit files its predictions under
``<work_dir>/<model>/``).
"""

from __future__ import annotations

import json
import math
import re
import string
from pathlib import Path

from benchmarks.importers import ForeignRun, ForeignSample
from schemas.errors import UsageError

TOOL = "vlmevalkit"
SUFFIXES = (".xlsx", ".tsv", ".json")
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
            return pd.read_excel(path, engine="openpyxl")
        if path.suffix == ".tsv":
            return pd.read_csv(path, sep="\t", keep_default_na=True)
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and {"columns", "data"} <= set(document):
            return pd.DataFrame(document["data"], columns=document["columns"])
        if not (isinstance(document, list) and all(isinstance(r, dict) for r in document)):
            raise ValueError("expected a list of records")
        return pd.DataFrame(document)
    except ImportError:
        raise UsageError(f"{path}: reading .xlsx needs openpyxl (pip install 'emovit[bench]')") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # damaged or foreign: one line naming it
        raise UsageError(f"{path}: not a readable VLMEvalKit prediction file ({type(exc).__name__}: "
                         f"{str(exc)[:160]})") from None


def model_and_dataset(path: Path, model: str | None) -> tuple[str, str]:
    """Split ``<model>_<dataset>`` using ``--model`` or the folder above the file that names the model."""
    stem = path.stem
    if model is not None:
        if not stem.startswith(f"{model}_") or len(stem) == len(model) + 1:
            raise UsageError(f"{path}: file name does not start with '{model}_' (--model)")
        return model, stem[len(model) + 1:]
    for folder in path.resolve().parents:
        if folder.name and stem.startswith(f"{folder.name}_") and len(stem) > len(folder.name) + 1:
            return folder.name, stem[len(folder.name) + 1:]
    raise UsageError(f"{path}: cannot tell the model from the dataset in '{stem}'; pass --model")


def read_file(path: Path, *, model: str | None = None) -> ForeignRun:
    """One prediction file as a :class:`ForeignRun` (its options, in letter order, are the labels)."""
    name, dataset = model_and_dataset(path, model)
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
    details = {"dataset": dataset, "format": path.suffix.lstrip("."), "options": letters,
               "ids": "image_id" if all(image_ids) and len(set(image_ids)) == len(image_ids) else "index"}
    return ForeignRun(TOOL, name, dataset, samples, [path], details, tuple(options) or None)


def read(paths: list[Path], *, model: str | None = None, note=print) -> list[ForeignRun]:
    """Every prediction file under ``paths`` (``.xlsx``, ``.tsv``, ``.json``). A file given by name must be
    one; in a folder (searched recursively) every other file of those types is passed over with a ``note``
    saying why."""
    runs = []
    for path in paths:
        if path.is_file():
            runs.append(read_file(path, model=model))
        elif path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
                try:
                    runs.append(read_file(found, model=model))
                except UsageError as exc:
                    note(f"skipped: {exc}")
        else:
            raise UsageError(f"{path}: no such file or folder")
    return runs


__all__ = ["LETTER_ONLY", "TOOL", "model_and_dataset", "read", "read_file", "read_table"]
