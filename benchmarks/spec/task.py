"""Benchmark tasks: small declarative YAML files (``benchmarks/tasks/*.yaml``) loaded by name or path.

A task says where its samples come from (``source``), which labels the models choose from, what they are
asked, and how answers are read. Its **hash** is the sha256 of the file's bytes: it is stored with every
result, so results of an edited task never mix with older ones.

Fields (unknown fields are an error):

============== ==========================================================================================
name           task name (results are filed under it)
description    one line for listings
source         ``build`` (a split of an ``emovit build`` output), ``folder`` (``<root>/<class>/*.jpg``),
               ``heldout`` (a held-out emotion dataset read as it ships, :mod:`builder.sources.heldout`) or
               ``derived`` (computed from another task's predictions)
split          build split (default ``test``)
rows           build rows to use: ``images`` (one sample per distinct image, asked ``instruction``; default)
               or ``reasoning`` (every reasoning row, asked its own question)
labels         candidate labels, in the order the models are given them
instruction    the question; ``{options}`` becomes the labels written "a, b, ... and z"
variants       ``{name: instruction}``: ask every image once per variant (instruction sensitivity)
answer         candidate answer for ranking, ``{label}`` replaced (default ``Predict emotion: {label}``)
mode           force ``rank`` or ``generate`` for this task (reasoning is generate-only)
max_new_tokens generation budget (default 12)
classes        folder tasks: ``{folder name: label}``
dataset        heldout tasks: the dataset (``emotion6``, ``fi``, ``artphoto``, ``abstract``, ``unbiasedemo``,
               ``twitter1``, ``webemo``); its root comes from the run config (``data.roots.<task or dataset>``)
label_field    heldout tasks: the table column holding the gold label (``label``; WEBEmo also ``label7``)
variant        heldout tasks: the dataset variant read by default (Twitter I: agreement level 5, 4 or 3; WEBEmo:
               split ``test``/``train``); ``data.variants.<task>=V`` in the run config picks another, and the
               results are then filed as ``<task>-<V>``
derive_from    derived tasks: the task whose predictions are mapped
map            derived tasks: ``{base label: label}``; a base label mapped to null (e.g. surprise in a polarity
               map) has no counterpart: samples with that gold label are left out, and a prediction of it is
               replaced by the best-scoring mapped label (rank mode) or counts as unreadable (generate mode)
============== ==========================================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.spec.packaged import packaged, read_reference
from schemas.errors import UsageError

SOURCES = ("build", "folder", "heldout", "derived")
ROWS = ("images", "reasoning")
MODES = ("rank", "generate")
_FIELDS = {"name", "description", "source", "split", "rows", "labels", "instruction", "variants", "answer", "mode",
           "max_new_tokens", "classes", "dataset", "label_field", "variant", "derive_from", "map"}
LABEL_FIELDS = ("label", "label7")
DEFAULT_ANSWER = "Predict emotion: {label}"


def options_text(labels) -> str:
    """Labels written as EmoVIT's instruction lists them: ``a, b, ... and z``."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


@dataclass(frozen=True)
class Task:
    """A loaded task file (see the module docstring for the fields) and its content hash."""

    name: str
    source: str
    labels: tuple[str, ...]
    hash: str
    path: str
    description: str = ""
    split: str = "test"
    rows: str = "images"
    instruction: str | None = None
    variants: dict[str, str] = field(default_factory=dict)
    answer: str = DEFAULT_ANSWER
    mode: str | None = None
    max_new_tokens: int = 12
    classes: dict[str, str] = field(default_factory=dict)
    dataset: str | None = None
    label_field: str = "label"
    variant: object = None
    derive_from: str | None = None
    map: dict[str, str | None] = field(default_factory=dict)

    def questions(self) -> dict[str | None, str | None]:
        """``{variant: instruction}`` with ``{options}`` filled in; one ``None`` variant without variants (for
        reasoning rows the instruction is ``None``: each row brings its own)."""
        fill = options_text(self.labels)
        if self.variants:
            return {name: text.replace("{options}", fill) for name, text in self.variants.items()}
        return {None: self.instruction.replace("{options}", fill) if self.instruction else None}

    def describe(self) -> dict:
        """The task as saved in a run's ``config.json``."""
        from dataclasses import asdict

        return asdict(self)


def packaged_tasks() -> dict[str, str]:
    """``{name: file name}`` of the task files shipped with the package."""
    return packaged("tasks")


def load_task(reference: str | Path) -> Task:
    """Load a packaged task by name (``emoset8``) or a task file by path; validates every field."""
    import yaml

    data, where = read_reference(reference, "tasks", "task")
    try:
        document = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise UsageError(f"{where}: a task file is a mapping of fields")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}")
    problems = []
    name = document.get("name")
    source = document.get("source")
    labels = document.get("labels")
    if not isinstance(name, str) or not name or "/" in name:
        problems.append("'name' must be a non-empty string without '/'")
    if source not in SOURCES:
        problems.append(f"'source' must be one of {', '.join(SOURCES)}")
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) and x for x in labels)
            and len(set(labels)) == len(labels)):
        problems.append("'labels' must be a list of distinct non-empty strings")
    rows = document.get("rows", "images")
    if rows not in ROWS:
        problems.append(f"'rows' must be one of {', '.join(ROWS)}")
    mode = document.get("mode")
    if mode is not None and mode not in MODES:
        problems.append(f"'mode' must be one of {', '.join(MODES)}")
    variants = document.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in variants.items()):
        problems.append("'variants' must map names to instructions")
    instruction = document.get("instruction")
    if source in ("build", "folder", "heldout") and rows == "images" and not (instruction or variants):
        problems.append("an image task needs 'instruction' or 'variants'")
    if instruction and variants:
        problems.append("give 'instruction' or 'variants', not both")
    if rows == "reasoning" and mode != "generate":
        problems.append("a reasoning task is answered by generation: set 'mode: generate'")
    answer = document.get("answer", DEFAULT_ANSWER)
    if not isinstance(answer, str) or "{label}" not in answer:
        problems.append("'answer' must contain {label}")
    classes = document.get("classes") or {}
    if source == "folder":
        if not isinstance(classes, dict) or not classes:
            problems.append("a folder task needs 'classes' ({folder name: label})")
        elif isinstance(labels, list) and set(classes.values()) - set(labels):
            problems.append(f"'classes' maps to labels not in 'labels': "
                            f"{', '.join(sorted(set(classes.values()) - set(labels)))}")
    if source == "heldout":
        problems += _heldout_problems(document, labels)
    mapping = document.get("map") or {}
    if source == "derived":
        if not isinstance(document.get("derive_from"), str):
            problems.append("a derived task needs 'derive_from' (a task name)")
        if not isinstance(mapping, dict) or not mapping:
            problems.append("a derived task needs 'map' ({base label: label})")
        elif isinstance(labels, list) and {v for v in mapping.values() if v is not None} - set(labels):
            problems.append("'map' maps to labels not in 'labels'")
    max_new = document.get("max_new_tokens", 12)
    if not isinstance(max_new, int) or max_new < 1:
        problems.append("'max_new_tokens' must be a positive integer")
    if problems:
        raise UsageError(f"{where}: " + "; ".join(problems))
    return Task(
        name=name, source=source, labels=tuple(labels), hash=hashlib.sha256(data).hexdigest(), path=where,
        description=str(document.get("description", "")), split=str(document.get("split", "test")), rows=rows,
        instruction=instruction, variants=dict(variants), answer=answer, mode=mode, max_new_tokens=max_new,
        classes={str(k): str(v) for k, v in classes.items()}, dataset=document.get("dataset"),
        label_field=document.get("label_field", "label"), variant=document.get("variant"),
        derive_from=document.get("derive_from"), map={str(k): None if v is None else str(v) for k, v in mapping.items()},
    )


def _heldout_problems(document: dict, labels) -> list[str]:
    """What is wrong with a heldout task's ``dataset``, ``label_field``, ``variant`` and ``labels``."""
    from builder.sources.heldout import READERS
    from schemas.heldout import LABELS, WEBEMO7

    dataset = document.get("dataset")
    if dataset not in READERS:
        return [f"a heldout task needs 'dataset', one of {', '.join(READERS)}"]
    problems = []
    label_field = document.get("label_field", "label")
    if label_field not in LABEL_FIELDS or (label_field == "label7" and dataset != "webemo"):
        problems.append("'label_field' is 'label' (or 'label7' for webemo)")
    variants = READERS[dataset].variants
    if document.get("variant") is not None and document["variant"] not in variants:
        problems.append(f"'variant' of {dataset} is one of {', '.join(map(str, variants))}" if variants
                        else f"{dataset} has no variants")
    vocabulary = WEBEMO7 if label_field == "label7" else LABELS[dataset]
    if isinstance(labels, list) and set(vocabulary) - set(labels):
        problems.append(f"'labels' must name every {dataset} class (missing "
                        f"{', '.join(sorted(set(vocabulary) - set(labels)))})")
    return problems


def ordered_tasks(names: list[str]) -> list[Task]:
    """The tasks, each derived task after the task it derives from (added when not listed)."""
    tasks = [load_task(name) for name in names]
    seen = {task.name for task in tasks}
    for task in list(tasks):
        if task.source == "derived" and task.derive_from not in seen:
            tasks.insert(0, load_task(task.derive_from))
            seen.add(task.derive_from)
    names_in_order = [t.name for t in tasks]
    if len(set(names_in_order)) != len(names_in_order):
        raise UsageError(f"task names must be unique, got {', '.join(names_in_order)}")
    return [t for t in tasks if t.source != "derived"] + [t for t in tasks if t.source == "derived"]


__all__ = ["Task", "load_task", "options_text", "ordered_tasks", "packaged_tasks"]
