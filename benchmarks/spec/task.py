"""Benchmark tasks: small declarative YAML files (``benchmarks/tasks/*.yaml``) loaded by name or path.

A task says where its samples come from (``source``), which labels the models choose from, what they are
asked, and how answers are read. Its **hash** is the sha256 of the file's bytes: it is stored with every
result, so results of an edited task never mix with older ones.

Fields (unknown fields are an error):

============== ==========================================================================================
name           task name (results are filed under it)
description    one line for listings
source         ``build`` (a split of an ``emovit build`` output), ``folder`` (``<root>/<class>/*.jpg``),
               ``heldout`` (a held-out emotion dataset read as it ships, :mod:`builder.sources.heldout`),
               ``derived`` (computed from another task's predictions) or ``blank`` (a probe: no data, every
               image a uniform grey one, ``per_label`` samples per gold label)
split          build split (default ``test``)
rows           build rows to use: ``images`` (one sample per distinct image, asked ``instruction``; default)
               or ``reasoning`` (every reasoning row, asked its own question)
labels         candidate labels, in the order the models are given them
instruction    the question; ``{options}`` becomes the labels written "a, b, ... and z"
variants       ``{name: instruction}``: ask every image once per variant (instruction sensitivity). A variant
               may instead be ``{instruction, options, seed}``: ``options: reversed`` lists the labels in
               reverse, ``options: shuffled`` in an order of its own for every image, seeded by ``seed`` and
               the image id (:func:`option_order`); the reference variant (:meth:`Task.reference_variant`) is the one flips are counted against
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
per_label      blank tasks: samples per gold label (default 8); sample ``blank-<label>-<k>`` has gold ``label``
============== ==========================================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.spec.packaged import packaged, read_mapping
from schemas.errors import UsageError

SOURCES = ("build", "folder", "heldout", "derived", "blank")
ROWS = ("images", "reasoning")
MODES = ("rank", "generate")
_FIELDS = {"name", "description", "source", "split", "rows", "labels", "instruction", "variants", "answer", "mode",
           "max_new_tokens", "classes", "dataset", "label_field", "variant", "derive_from", "map", "per_label"}
LABEL_FIELDS = ("label", "label7")
DEFAULT_ANSWER = "Predict emotion: {label}"
#: How a variant lists the task's labels in its instruction (``given``: the order of ``labels``).
ORDERS = ("given", "reversed", "shuffled")
_VARIANT_FIELDS = {"instruction", "options", "seed"}


def options_text(labels) -> str:
    """Labels written as EmoVIT's instruction lists them: ``a, b, ... and z``."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def option_order(labels, order: dict | None, image_id: str) -> tuple[str, ...]:
    """The labels in the order a variant lists them for one image.

    ``order`` is the variant's ``{"options": given|reversed|shuffled, "seed": int}`` (``None``: given).
    ``shuffled`` is a permutation of ``labels`` by NumPy's ``default_rng`` seeded with the first 8 bytes
    (big-endian) of ``sha256("<seed>\\0<image_id>")``: every image gets its own order, the same on every
    machine, and anyone holding the task file can recompute it from the image id alone.
    """
    labels = tuple(labels)
    kind = (order or {}).get("options", "given")
    if kind == "reversed":
        return labels[::-1]
    if kind == "shuffled":
        import numpy as np

        digest = hashlib.sha256(f"{int((order or {}).get('seed', 0))}\0{image_id}".encode()).digest()
        permutation = np.random.default_rng(int.from_bytes(digest[:8], "big")).permutation(len(labels))
        return tuple(labels[i] for i in permutation)
    return labels


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
    orders: dict[str, dict] = field(default_factory=dict)
    per_label: int = 8

    def questions(self) -> dict[str | None, str | None]:
        """``{variant: instruction}`` with ``{options}`` filled in; one ``None`` variant without variants (for
        reasoning rows the instruction is ``None``: each row brings its own). A shuffled variant's instruction
        here lists the labels in their given order (its words and length are every image's)."""
        if self.variants:
            def listed(name: str) -> tuple[str, ...]:
                order = self.orders.get(name)
                return self.labels if (order or {}).get("options") == "shuffled" else option_order(self.labels, order, "")

            return {name: text.replace("{options}", options_text(listed(name))) for name, text in self.variants.items()}
        return {None: self.instruction.replace("{options}", options_text(self.labels)) if self.instruction else None}

    def reference_variant(self) -> str | None:
        """The variant others are compared with: ``original`` where there is one, else the first listed."""
        return "original" if "original" in self.variants else next(iter(self.variants), None)

    def question(self, variant: str | None, image_id: str) -> str | None:
        """The instruction of ``variant`` for one image: its labels in the order :func:`option_order` gives."""
        if variant is None:
            return self.questions()[None]
        order = option_order(self.labels, self.orders.get(variant), image_id)
        return self.variants[variant].replace("{options}", options_text(order))

    def options_asked(self, variant: str | None, image_id: str) -> tuple[str, ...] | None:
        """The labels in the order the instruction of ``variant`` listed them for ``image_id`` (a fixed
        instruction is taken to list them in the task's order, as the packaged ones do); ``None`` for reasoning
        rows, which bring their own questions."""
        if self.rows == "reasoning":
            return None
        return option_order(self.labels, self.orders.get(variant) if variant is not None else None, image_id)

    def describe(self) -> dict:
        """The task as saved in a run's ``config.json``."""
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_description(cls, document) -> Task | None:
        """The task a run's ``config.json`` describes (:meth:`describe`); ``None`` when the document is not one
        (a foreign config holds anything)."""
        from dataclasses import fields

        if not isinstance(document, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in document.items() if k in known}
            values["labels"] = tuple(values.get("labels") or ())
            task = cls(**values)
        except TypeError:
            return None
        ok = (isinstance(task.name, str) and task.source in SOURCES and task.labels
              and all(isinstance(x, str) for x in task.labels) and isinstance(task.variants, dict)
              and all(isinstance(v, str) for v in task.variants.values()) and isinstance(task.orders, dict)
              and all(name in task.variants and isinstance(order, dict) and order.get("options") in ORDERS
                      and isinstance(order.get("seed", 0), int) for name, order in task.orders.items()))
        return task if ok else None


def packaged_tasks() -> dict[str, str]:
    """``{name: file name}`` of the task files shipped with the package."""
    return packaged("tasks")


def load_task(reference: str | Path) -> Task:
    """Load a packaged task by name (``emoset8``) or a task file by path; validates every field."""
    document, where, data = read_mapping(reference, "tasks", "task", "a task file is a mapping of fields")
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
    variants, orders = _variants(document.get("variants") or {}, problems)
    instruction = document.get("instruction")
    if source in ("build", "folder", "heldout", "blank") and rows == "images" and not (instruction or variants):
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
    per_label = document.get("per_label", 8)
    if source == "blank" and not (isinstance(per_label, int) and not isinstance(per_label, bool) and per_label >= 1):
        problems.append("'per_label' must be a positive integer (blank samples per gold label)")
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
        orders=orders, per_label=per_label if source == "blank" else 8,
    )


def _variants(value, problems: list[str]) -> tuple[dict[str, str], dict[str, dict]]:
    """A task file's ``variants``: ``{name: instruction}`` and, for variants that list the labels in another
    order, ``{name: {"options": reversed|shuffled, "seed": int}}``; what is wrong goes to ``problems``."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        problems.append("'variants' must map names to instructions")
        return {}, {}
    variants, orders = {}, {}
    for name, spec in value.items():
        if isinstance(spec, str):
            variants[name] = spec
            continue
        if not isinstance(spec, dict) or set(spec) - _VARIANT_FIELDS or not isinstance(spec.get("instruction"), str):
            problems.append(f"variant {name!r} must be an instruction or {{instruction, options, seed}}")
            continue
        kind, seed = spec.get("options", "given"), spec.get("seed", 0)
        if kind not in ORDERS:
            problems.append(f"variant {name!r}: 'options' must be one of {', '.join(ORDERS)}")
        elif not isinstance(seed, int) or isinstance(seed, bool):
            problems.append(f"variant {name!r}: 'seed' must be an integer")
        elif kind != "given" and "{options}" not in spec["instruction"]:
            problems.append(f"variant {name!r}: an instruction listing the labels {kind} needs {{options}}")
        else:
            variants[name] = spec["instruction"]
            if kind != "given":
                orders[name] = {"options": kind, "seed": seed} if kind == "shuffled" else {"options": kind}
    return variants, orders


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


def task_of_run(name: str, config: dict | None) -> Task | None:
    """The task a run answered: the one its ``config.json`` describes, else the packaged task of that name (a
    foreign run's task name is looked up, never opened as a file), else ``None``."""
    described = Task.from_description((config or {}).get("task") if isinstance(config, dict) else None)
    if described is not None and described.name == name:
        return described
    if name in packaged_tasks():
        try:
            return load_task(name)
        except UsageError:
            return None
    return None


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


__all__ = ["ORDERS", "Task", "load_task", "option_order", "options_text", "ordered_tasks", "packaged_tasks",
           "task_of_run"]
