"""The samples a task scores, and the fingerprint of the data they come from.

* build, ``rows: images`` — one sample per distinct image of the split (its first row), id ``image_id``
  (``image_id#variant`` when the task has variants); gold is the row's emotion.
* build, ``rows: reasoning`` — every reasoning row of the split, asked its own first question; id is the
  row id.
* folder — every ``*.jpg``/``*.jpeg``/``*.png`` under ``<root>/<class>/`` for the task's classes, sorted;
  id ``class/stem``, ``image_id`` the file stem.
* heldout — every row of the dataset's sample table (:mod:`builder.sources.heldout`), or with ``limit`` a
  seeded, stratified subset; id and ``image_id`` the image path relative to the dataset root; gold the row's
  ``label_field``, by name.
* blank — ``per_label`` samples per label, ``image_id`` ``blank-<label>-<k>``, every image the same uniform grey
  one (:data:`BLANK_SIZE`, :data:`BLANK_GREY`); gold the label.

A variant whose options are shuffled asks every image with its labels in an order of its own
(:meth:`benchmarks.spec.task.Task.question`).

Samples come in a fixed order, so a run's prediction file and its shards line up across restarts and ranks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks.spec.task import Task
from schemas.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: The blank probe's image: this size, every pixel this RGB grey.
BLANK_SIZE = (224, 224)
BLANK_GREY = (128, 128, 128)


@dataclass(frozen=True)
class Sample:
    """One question to a model: an image, what to ask (``None``: the task's instruction), the gold label."""

    id: str
    image_id: str
    image: object
    gold: str
    instruction: str | None = None
    variant: str | None = None


def load_split(build: str | Path, split: str):
    """A split of a built dataset (``datasets.load_from_disk``), with one clear error when it is not there."""
    from builder.dataset.stored import load_built

    path = Path(build)
    built = load_built(path)
    if split not in built:
        raise UsageError(f"{path}: no split {split!r} (have {', '.join(built)})")
    return built[split]


def build_fingerprint(build: str | Path, split: str) -> str:
    """The split's content fingerprint (``state.json`` ``_fingerprint``, which ``emovit build`` sets to the
    content hash) combined with the build report's config fingerprint when there is one."""
    path = Path(build)
    parts = []
    for name in ("report.json",):
        try:
            parts.append(str(json.loads((path / name).read_text(encoding="utf-8")).get("fingerprint")))
        except (OSError, ValueError):
            parts.append("-")
    try:
        parts.append(str(json.loads((path / split / "state.json").read_text(encoding="utf-8")).get("_fingerprint")))
    except (OSError, ValueError):
        raise UsageError(f"{path}: split {split!r} has no state.json; is this an 'emovit build' output?") from None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def task_split(task: Task, build: str | Path):
    """The split a ``source: build`` task reads and each row's gold label; the split's images pass the reader's
    containment rule first, and an emotion the task does not list is one :class:`UsageError`."""
    from builder.dataset.stored import check_source_images
    from schemas.features import column

    split = load_split(build, task.split)
    check_source_images(build, {task.split: split})  # the reader's containment rule, before any image is opened
    names = split.features["emotion"].names
    gold = [names[e] if isinstance(e, int) else e for e in column(split, "emotion")]
    unknown = sorted(set(gold) - set(task.labels))
    if unknown:
        raise UsageError(f"{build}: split {task.split} has emotions {', '.join(unknown)} that task {task.name} "
                         "does not list")
    return split, gold


def first_rows(image_ids) -> dict[str, int]:
    """``{image_id: position of its first row}`` in split order: the one sample per image of an image task."""
    first: dict[str, int] = {}
    for index, image_id in enumerate(image_ids):
        first.setdefault(image_id, index)
    return first


def asker(task: Task):
    """``ask(variant, image_id)``: the instruction a sample is asked (per image only where the options are
    shuffled; the variant's one instruction otherwise)."""
    fixed = task.questions()
    shuffled = {name for name, order in task.orders.items() if order.get("options") == "shuffled"}

    def ask(variant: str | None, image_id: str) -> str | None:
        return task.question(variant, image_id) if variant in shuffled else fixed[variant]

    return ask


def build_samples(task: Task, build: str | Path) -> list[Sample]:
    """Samples of a ``source: build`` task."""
    from schemas.features import column
    from schemas.protocol import IMAGE_TOKEN, strip_image_token

    split, gold = task_split(task, build)
    ids, image_ids, kinds = column(split, "id"), column(split, "image_id"), column(split, "kind")
    if task.rows == "reasoning":
        keep = [i for i, kind in enumerate(kinds) if kind == "reasoning"]
        if not keep:
            raise UsageError(f"{build}: split {task.split} has no reasoning rows (build with --config all)")
        rows = split.select(keep)
        images, dialogues = column(rows, "image"), column(rows, "conversations")
        samples = []
        for position, index in enumerate(keep):
            question = strip_image_token(dialogues[position][0]["value"]).replace(IMAGE_TOKEN, "").strip()
            samples.append(Sample(ids[index], image_ids[index], images[position], gold[index], question))
        return samples
    first = first_rows(image_ids)
    rows = split.select(list(first.values()))
    images = column(rows, "image")
    samples, ask = [], asker(task)
    for variant in task.questions():
        for position, (image_id, index) in enumerate(first.items()):
            sample_id = image_id if variant is None else f"{image_id}#{variant}"
            samples.append(Sample(sample_id, image_id, images[position], gold[index], ask(variant, image_id), variant))
    return samples


def folder_files(task: Task, root: str | Path) -> list[tuple[str, Path]]:
    """``(label, path)`` of every image under the task's class folders, sorted by class folder then name."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: folder dataset not found (set data.folder to <root> holding <class>/*.jpg)")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unmapped = [name for name in folders if name not in task.classes]
    if unmapped:
        raise UsageError(f"{root}: class folder(s) {', '.join(unmapped)} not mapped by task {task.name} "
                         f"({task.path}: classes)")
    missing = [name for name in task.classes if name not in folders]
    if missing:
        raise UsageError(f"{root}: no folder for class(es) {', '.join(missing)} of task {task.name}")
    files = []
    for name in folders:
        for path in sorted((root / name).iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                files.append((task.classes[name], path))
    if not files:
        raise UsageError(f"{root}: no .jpg/.jpeg/.png images in the class folders")
    return files


def folder_samples(task: Task, root: str | Path) -> list[Sample]:
    """Samples of a ``source: folder`` task."""
    samples, ask = [], asker(task)
    for variant in task.questions():
        for label, path in folder_files(task, root):
            base = f"{path.parent.name}/{path.stem}"
            sample_id = base if variant is None else f"{base}#{variant}"
            samples.append(Sample(sample_id, path.stem, str(path), label, ask(variant, path.stem), variant))
    return samples


def blank_samples(task: Task) -> list[Sample]:
    """Samples of a ``source: blank`` task: ``per_label`` per label, every one the same grey image."""
    from PIL import Image

    grey = Image.new("RGB", BLANK_SIZE, BLANK_GREY)
    ids = [(f"blank-{label}-{k}", label) for label in task.labels for k in range(task.per_label)]
    samples, ask = [], asker(task)
    for variant in task.questions():
        for image_id, label in ids:
            sample_id = image_id if variant is None else f"{image_id}#{variant}"
            samples.append(Sample(sample_id, image_id, grey, label, ask(variant, image_id), variant))
    return samples


def folder_fingerprint(task: Task, root: str | Path) -> str:
    """sha256 over every image's class, name and bytes (a changed, added or removed file changes it)."""
    digest = hashlib.sha256()
    for label, path in folder_files(task, root):
        digest.update(f"{label}\0{path.parent.name}/{path.name}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def task_samples(task: Task, data: dict) -> tuple[list[Sample], dict]:
    """The samples of ``task`` and a description of their data (with its fingerprint)."""
    if task.source == "build":
        if not data["build"]:
            raise UsageError(f"task {task.name} needs data.build (an 'emovit build' output) or data.synth")
        return (build_samples(task, data["build"]),
                {"kind": "build", "path": str(data["build"]), "split": task.split,
                 "fingerprint": build_fingerprint(data["build"], task.split)})
    if task.source == "heldout":
        return heldout_samples(task, data)
    if task.source == "blank":
        spec = f"{BLANK_SIZE}\0{BLANK_GREY}\0{task.per_label}\0{','.join(task.labels)}"
        return blank_samples(task), {"kind": "blank", "size": list(BLANK_SIZE), "grey": list(BLANK_GREY),
                                     "per_label": task.per_label,
                                     "fingerprint": hashlib.sha256(spec.encode()).hexdigest()[:16]}
    if not data["folder"]:
        raise UsageError(f"task {task.name} needs data.folder (<root>/<class>/*.jpg) or data.folder_synth")
    return (folder_samples(task, data["folder"]),
            {"kind": "folder", "path": str(data["folder"]), "fingerprint": folder_fingerprint(task, data["folder"])})


# ------------------------------------------------------------------------------------------ held-out datasets
def with_variant(task: Task, data: dict) -> Task:
    """``task`` reading the variant ``data.variants`` names for it (by task or dataset name), filed as
    ``<task>-<variant>`` when that is not the task's default; other tasks unchanged."""
    from dataclasses import replace

    variants = data.get("variants") or {}
    chosen = variants.get(task.name, variants.get(task.dataset)) if task.source == "heldout" else None
    if chosen is None or chosen == task.variant:
        return task
    from builder.sources.heldout import reader_for

    allowed = reader_for(task.dataset).variants
    if chosen not in allowed:
        raise UsageError(f"data.variants.{task.name}: {task.dataset} has variants "
                         f"{', '.join(map(str, allowed)) or 'none'}, not {chosen!r}")
    return replace(task, name=f"{task.name}-{chosen}", variant=chosen)


def heldout_data(config, out: Path, is_main: bool = True, wait=lambda: None) -> dict:
    """The held-out settings of a run config (roots, variants, subset, where reports go), with the synthetic
    layouts of ``data.heldout_synth`` written by the main process (the others ``wait``)."""
    data = config.data
    synthetic = {}
    if data.get("heldout_synth"):
        if is_main:
            synthetic_layouts(out / "_data" / "heldout", **dict(data["heldout_synth"]))
        wait()
        synthetic = synthetic_layouts(out / "_data" / "heldout", **dict(data["heldout_synth"]))
    return {"roots": dict(data.get("roots") or {}), "variants": dict(data.get("variants") or {}),
            "synthetic_roots": synthetic, "skip_missing": bool(data.get("skip_missing", False)),
            "verify_images": bool(data.get("verify_images", True)), "limit": config.limit, "seed": config.seed,
            "reports": str(out / "data") if is_main else None}


def check_data_keys(tasks: list[Task], data: dict) -> None:
    """Every key of ``data.roots`` and ``data.variants`` must name a held-out dataset, a task of this run or a
    packaged task: a misspelt key (``data.roots.fii``) is one :class:`UsageError` naming it and the known keys,
    never a task silently left without its data."""
    from benchmarks.spec.task import packaged_tasks
    from builder.sources.heldout import READERS

    known = set(READERS) | set(packaged_tasks())
    for task in tasks:
        known |= {task.name, _unvaried(task)} | ({task.dataset} if task.dataset else set())
    for key in ("roots", "variants"):
        unknown = sorted(str(name) for name in (data.get(key) or {}) if name not in known)
        if unknown:
            raise UsageError(f"data.{key}.{unknown[0]}: no held-out dataset or task is called {unknown[0]!r}; known: "
                             f"{', '.join(sorted(known))}")


def rooted_tasks(tasks: list[Task], data: dict, note=print) -> list[Task]:
    """The tasks with ``data.variants`` applied (a task derived from a renamed one follows it); with
    ``data.skip_missing``, heldout tasks without a root, and the tasks derived from them, are left out. Keys of
    ``data.roots`` and ``data.variants`` that name nothing are refused (:func:`check_data_keys`)."""
    from dataclasses import replace

    check_data_keys(tasks, data)
    tasks = list(tasks)
    renamed = {}
    for index, task in enumerate(tasks):
        changed = with_variant(task, data)
        if changed.name != task.name:
            renamed[task.name] = tasks[index] = changed
    for index, task in enumerate(tasks):
        if task.source == "derived" and task.derive_from in renamed:
            base = renamed[task.derive_from]
            tasks[index] = replace(task, name=f"{task.name}-{base.variant}", derive_from=base.name)
    if not data.get("skip_missing"):
        return tasks
    missing = {t.name for t in tasks if t.source == "heldout" and not dataset_root(t, data)}
    missing |= {t.name for t in tasks if t.source == "derived" and t.derive_from in missing}
    if missing:
        note(f"skipped (no data.roots given): {', '.join(t.name for t in tasks if t.name in missing)}")
    kept = [t for t in tasks if t.name not in missing]
    if not kept:
        raise UsageError("no task has data: give data.roots.<task>=PATH for at least one of "
                         + ", ".join(t.name for t in tasks if t.source == "heldout"))
    return kept


def _unvaried(task: Task) -> str:
    """The task's name without the ``-<variant>`` :func:`with_variant` adds."""
    return task.name.removesuffix(f"-{task.variant}")


def dataset_root(task: Task, data: dict) -> str | None:
    """Where a heldout task's dataset lies: ``data.roots.<task>``, else ``data.roots.<dataset>``, else the
    synthetic tree of ``data.heldout_synth``; ``None`` when none is given."""
    roots = data.get("roots") or {}
    root = roots.get(task.name) or roots.get(_unvaried(task)) or roots.get(task.dataset)
    return str(root) if root else (data.get("synthetic_roots") or {}).get(task.dataset)


def stratified_subset(labels: list[str], n: int, seed: int) -> list[int]:
    """Positions (ascending) of a seeded, stratified subset of ``n`` of ``labels``.

    Each label gets ``floor(n * count / total)`` places; the places left go to the labels with the largest
    remainders (ties: the larger label, then by name). Within a label the images are a seeded random choice.
    """
    import numpy as np

    if n >= len(labels):
        return list(range(len(labels)))
    groups: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        groups.setdefault(label, []).append(position)
    total = len(labels)
    quota = {label: n * len(members) // total for label, members in groups.items()}
    order = sorted(groups, key=lambda label: (-(n * len(groups[label]) % total), -len(groups[label]), label))
    for label in order[: n - sum(quota.values())]:
        quota[label] += 1
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(groups):
        members = groups[label]
        chosen += [members[i] for i in rng.permutation(len(members))[: quota[label]]]
    return sorted(chosen)


def read_heldout_task(task: Task, data: dict):
    """The :class:`~builder.sources.heldout.HeldoutRead` of a heldout task (read once per dataset, root and
    variant within a run)."""
    from builder.sources.heldout import read_heldout

    root = dataset_root(task, data)
    if not root:
        raise UsageError(f"task {task.name} needs data.roots.{_unvaried(task)}=PATH (the {task.dataset} dataset as "
                         "unpacked) or data.heldout_synth")
    key = (task.dataset, root, task.variant, bool(data.get("verify_images", True)))
    reads = data.setdefault("_reads", {})
    if key not in reads:
        reads[key] = read_heldout(task.dataset, root, variant=task.variant,
                                  verify_images=bool(data.get("verify_images", True)))
    return reads[key]


def heldout_samples(task: Task, data: dict) -> tuple[list[Sample], dict]:
    """Samples of a ``source: heldout`` task and the description of their data for ``config.json``: the read's
    counts, the subset taken, and a fingerprint over the selected images' ids, gold labels and bytes. With
    ``data["reports"]`` set, the read's ``read.json`` and ``quarantine.jsonl`` go to ``<reports>/<task>/``."""
    read = read_heldout_task(task, data)
    table = read.table
    gold = table[task.label_field].tolist()
    unknown = sorted(set(gold) - set(task.labels))
    if unknown:
        raise UsageError(f"{read.root}: labels {', '.join(unknown)} are not among task {task.name}'s labels")
    limit = data.get("limit")
    seed = int(data.get("seed", 0))
    positions = stratified_subset(gold, limit, seed) if limit else list(range(len(gold)))
    ids, images = table["id"].tolist(), table["image"].tolist()
    digest = hashlib.sha256(f"{task.dataset}\0{read.variant}\0{task.label_field}\0".encode())
    samples = []
    for position in positions:
        digest.update(f"{ids[position]}\0{gold[position]}\0".encode())
        digest.update(hashlib.sha256(Path(images[position]).read_bytes()).digest())
    ask = asker(task)
    for variant in task.questions():
        for position in positions:
            sample_id = ids[position] if variant is None else f"{ids[position]}#{variant}"
            samples.append(Sample(sample_id, ids[position], images[position], gold[position],
                                  ask(variant, ids[position]), variant))
    summary = {key: value for key, value in read.summary().items() if key not in ("dataset", "root", "variant")}
    dataset = {"kind": "heldout", "dataset": task.dataset, "path": read.root, "variant": read.variant,
               "label_field": task.label_field, "fingerprint": digest.hexdigest()[:16], "read": summary,
               "selected": len(positions), "limit": limit, "seed": seed if limit else None}
    if data.get("reports"):
        folder = Path(data["reports"]) / task.name
        write_read_report(read, folder)
        dataset["quarantine"] = str(folder / "quarantine.jsonl")
    if not samples:
        raise UsageError(f"{read.root}: no usable {task.dataset} image ({summary['quarantined']} quarantined; see "
                         f"{dataset.get('quarantine', 'the quarantine')})")
    return samples, dataset


def write_read_report(read, folder: str | Path) -> None:
    """``read.json`` (the read's summary) and ``quarantine.jsonl`` (one line per quarantined entry) in ``folder``."""
    from dataclasses import asdict

    from schemas.jsonlines import write_lines
    from schemas.runinfo import to_jsonable, write_json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "read.json", read.summary())
    write_lines(folder / "quarantine.jsonl", (to_jsonable(asdict(entry)) for entry in read.quarantined))


def synthetic_layouts(folder: str | Path, *, per_class: int = 4, seed: int = 0, image_size: int = 32) -> dict[str, str]:
    """A tree in every held-out layout under ``folder/<dataset>`` (written once per spec; ``emovit synth
    --layout`` writes the same trees); returns ``{dataset: root}``."""
    import shutil

    from builder.sources.layouts import LayoutConfig, write_layout
    from schemas.heldout import DATASETS

    folder = Path(folder)
    spec = {"per_class": per_class, "seed": seed, "image_size": image_size}
    marker = folder / "layouts_spec.json"
    roots = {name: str(folder / name) for name in DATASETS}
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == spec:
            return roots
    except (OSError, ValueError):
        pass
    if folder.exists():
        shutil.rmtree(folder)
    for name in DATASETS:
        write_layout(folder / name, LayoutConfig(name, per_class=per_class, seed=seed, image_size=image_size))
    marker.write_text(json.dumps(spec, sort_keys=True), encoding="utf-8")
    return roots


__all__ = [
    "BLANK_GREY",
    "BLANK_SIZE",
    "Sample",
    "asker",
    "blank_samples",
    "build_fingerprint",
    "build_samples",
    "check_data_keys",
    "dataset_root",
    "first_rows",
    "folder_files",
    "folder_fingerprint",
    "folder_samples",
    "heldout_data",
    "heldout_samples",
    "load_split",
    "read_heldout_task",
    "rooted_tasks",
    "stratified_subset",
    "synthetic_layouts",
    "task_samples",
    "task_split",
    "with_variant",
    "write_read_report",
]
