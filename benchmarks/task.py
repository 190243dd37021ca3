"""Benchmark tasks: small declarative YAML files (``benchmarks/tasks/*.yaml``) loaded by name or path.

A task says where its samples come from (``source``), which labels the models choose from, what they are
asked, and how answers are read. Its **hash** is the sha256 of the file's bytes: it is stored with every
result, so results of an edited task never mix with older ones.

Fields (unknown fields are an error):

============== ==========================================================================================
name           task name (results are filed under it)
description    one line for listings
source         ``build`` (a split of an ``emovit build`` output), ``folder`` (``<root>/<class>/*.jpg``) or
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
derive_from    derived tasks: the task whose predictions are mapped
map            derived tasks: ``{base label: label}``
============== ==========================================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.packaged import packaged, read_reference
from schemas.errors import UsageError

SOURCES = ("build", "folder", "derived")
ROWS = ("images", "reasoning")
MODES = ("rank", "generate")
_FIELDS = {"name", "description", "source", "split", "rows", "labels", "instruction", "variants", "answer", "mode",
           "max_new_tokens", "classes", "derive_from", "map"}
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
    derive_from: str | None = None
    map: dict[str, str] = field(default_factory=dict)

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
    if source in ("build", "folder") and rows == "images" and not (instruction or variants):
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
    mapping = document.get("map") or {}
    if source == "derived":
        if not isinstance(document.get("derive_from"), str):
            problems.append("a derived task needs 'derive_from' (a task name)")
        if not isinstance(mapping, dict) or not mapping:
            problems.append("a derived task needs 'map' ({base label: label})")
        elif isinstance(labels, list) and set(mapping.values()) - set(labels):
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
        classes={str(k): str(v) for k, v in classes.items()}, derive_from=document.get("derive_from"),
        map={str(k): str(v) for k, v in mapping.items()},
    )


__all__ = ["Task", "load_task", "options_text", "packaged_tasks"]
