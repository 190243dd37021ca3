"""Per-image task data the leaderboard needs besides the predictions: what the dataset ships about each image.

* build tasks (``emoset8``, ``sensitivity``, ``reasoning`` ... and the tasks derived from them): EmoSet's
  attributes of the image (``brightness``, ``colorfulness``, ``scene``, ``objects``, ``facial_expression``,
  ``human_action``; null where not annotated), for accuracy per attribute value;
* ``emotion6``: the human vote distribution as the archive ships it (``votes``: the seven shares of
  ``ground_truth.txt``, its six emotions and ``neutral``), ``valence`` and ``arousal`` (1-9);
* ``abstract``: the vote counts (``votes``, by Mikels emotion: ``Content`` counts contentment, ``Sad`` sadness).

The runner writes them to ``sample_data.jsonl`` in every run folder of such a task (one line per image:
``image_id`` plus the fields above), so a run folder carries what its figures need wherever it is copied.
``emovit bench leaderboard`` reads that file beside each ``predictions.jsonl``; for runs without one (imported
from another harness, or older) it reads another run's file of the same task, else the data where it lies,
given as ``--data data.build=BUILD`` for build tasks and ``data.roots.<task or dataset>=PATH`` for held-out
ones (data given on the command line wins over the files). Which image a line describes is matched by
``image_id``.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.spec.task import Task
from schemas.errors import UsageError

#: The file beside ``predictions.jsonl`` holding the task's per-image data.
SAMPLE_DATA = "sample_data.jsonl"
#: EmoSet's attributes as a build stores them (``attributes`` column).
ATTRIBUTES = ("brightness", "colorfulness", "scene", "objects", "facial_expression", "human_action")


def build_sample_data(task: Task, build: str | Path, image_ids: set[str] | None = None) -> list[dict]:
    """EmoSet's attributes of every image of a build task's split (first row per image, split order)."""
    from benchmarks.data.samples import first_rows, load_split
    from schemas.features import column

    split = load_split(build, task.split)
    first = first_rows(column(split, "image_id"))
    attributes = column(split.select(list(first.values())), "attributes")
    return [{"image_id": image_id, "attributes": {name: (values or {}).get(name) for name in ATTRIBUTES}}
            for image_id, values in zip(first, attributes) if image_ids is None or image_id in image_ids]


def heldout_sample_data(task: Task, data: dict, image_ids: set[str] | None = None) -> list[dict] | None:
    """The votes (and Emotion6's valence and arousal) of a held-out task's images; ``None`` for datasets that
    ship none."""
    from benchmarks.data.samples import read_heldout_task
    from schemas.heldout import (
        ABSTRACT_COLUMNS,
        ABSTRACT_TO_MIKELS,
        EMOTION6_DISTRIBUTION,
        prob_column,
        votes_column,
    )

    if task.dataset not in ("emotion6", "abstract"):
        return None
    table = read_heldout_task(task, data).table
    if image_ids is not None:
        table = table[table["id"].isin(image_ids)]
    records = []
    if task.dataset == "emotion6":
        shares = {name: table[prob_column(name)].tolist() for name in EMOTION6_DISTRIBUTION}
        for i, (image_id, valence, arousal) in enumerate(zip(table["id"], table["valence"], table["arousal"])):
            records.append({"image_id": image_id, "votes": {name: float(shares[name][i]) for name in shares},
                            "valence": float(valence), "arousal": float(arousal)})
    else:
        counts = {ABSTRACT_TO_MIKELS[name]: table[votes_column(name)].tolist() for name in ABSTRACT_COLUMNS}
        for i, image_id in enumerate(table["id"]):
            records.append({"image_id": image_id, "votes": {name: int(counts[name][i]) for name in counts}})
    return records


def task_sample_data(task: Task, data: dict, image_ids: set[str] | None = None) -> list[dict] | None:
    """The per-image data of ``task`` from the run's data settings (``data["build"]``, held-out roots);
    ``None`` when the task's data ships none (folder, blank and most held-out tasks)."""
    if task.source == "build" and data.get("build"):
        return build_sample_data(task, data["build"], image_ids)
    if task.source == "heldout":
        return heldout_sample_data(task, data, image_ids)
    return None


def write_sample_data(folder: str | Path, records: list[dict] | None) -> Path | None:
    """``folder/sample_data.jsonl`` (strict JSON lines, written whole then renamed into place); nothing when
    there are no records."""
    import os

    from schemas.jsonlines import write_lines

    if not records:
        return None
    path = Path(folder) / SAMPLE_DATA
    temporary = path.with_name(SAMPLE_DATA + ".tmp")
    write_lines(temporary, records)
    os.replace(temporary, path)
    return path


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(record) -> str | None:
    """What makes a ``sample_data.jsonl`` line unusable (``None`` when it is usable)."""
    if not isinstance(record, dict) or not isinstance(record.get("image_id"), (str, int)) \
            or isinstance(record.get("image_id"), bool):
        return "a line is an object with an image_id"
    votes = record.get("votes")
    if votes is not None and not (isinstance(votes, dict) and all(isinstance(k, str) and _number(v) and v >= 0
                                                                   for k, v in votes.items())):
        return "votes map labels to numbers >= 0"
    for name in ("valence", "arousal"):
        if record.get(name) is not None and not _number(record[name]):
            return f"{name} is a finite number"
    attributes = record.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return "attributes is an object"
    return None


def read_sample_data(path: str | Path) -> dict[str, dict]:
    """``{image_id: record}`` of a ``sample_data.jsonl`` file (one :class:`UsageError` naming the file and line
    for a line that is not JSON or not a usable record)."""
    from schemas.jsonlines import BadLine, parse_lines, read_text

    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: unreadable sample data ({getattr(exc, 'strerror', None) or exc})") from None
    found = {}
    for number, record in parse_lines(text):
        problem = record.message if isinstance(record, BadLine) else _problem(record)
        if problem:
            raise UsageError(f"{path}:{number}: unreadable sample data ({problem})")
        found[str(record["image_id"])] = record
    return found


def parse_data_options(items) -> dict:
    """``data.build=BUILD``, ``data.roots.<task or dataset>=PATH`` and ``data.variants.<task>=V`` options as
    the ``data`` mapping of a run config (anything else is one :class:`UsageError`)."""
    from benchmarks.spec.config import apply_override, parse_override

    document: dict = {"data": {}}
    for text in items:
        path, value = parse_override(text)
        if len(path) < 2 or path[0] != "data" or path[1] not in ("build", "roots", "variants") \
                or (path[1] == "build") != (len(path) == 2) or len(path) > 3:
            raise UsageError(f"{text}: the leaderboard reads task data from data.build=BUILD, "
                             "data.roots.<task or dataset>=PATH or data.variants.<task>=V")
        apply_override(document, path, str(value) if path[1] != "variants" else value)
    return document["data"]


def _derived_base(task: Task) -> Task | None:
    from benchmarks.spec.task import load_task, packaged_tasks

    if task.source == "derived" and task.derive_from in packaged_tasks():
        return load_task(task.derive_from)
    return None


def leaderboard_task_data(tasks: dict[str, tuple[Task | None, list, set[str]]], data: dict | None = None
                          ) -> dict[str, dict[str, dict]]:
    """Per task, ``{image_id: record}`` for the leaderboard.

    ``tasks`` maps each task name to its :class:`Task` (``None`` when unknown), the folders of its runs and the
    image ids they scored. Data given on the command line (``data``, :func:`parse_data_options`) serves the
    tasks it names (a derived task: through the task it derives from); otherwise the run folders'
    ``sample_data.jsonl`` files are read, one after another, until every scored image is covered.
    """
    from benchmarks.data.samples import dataset_root

    settings = {**(data or {}), "verify_images": False}
    found: dict[str, dict[str, dict]] = {}
    for name, (task, folders, image_ids) in sorted(tasks.items()):
        source = _derived_base(task) if task is not None and task.source == "derived" else task
        records: dict[str, dict] = {}
        if source is not None and ((source.source == "build" and settings.get("build"))
                                   or (source.source == "heldout" and dataset_root(source, settings))):
            records = {str(r["image_id"]): r for r in task_sample_data(source, settings) or []}
        else:
            for folder in folders:
                path = Path(folder) / SAMPLE_DATA
                if path.is_file():
                    for image_id, record in read_sample_data(path).items():
                        records.setdefault(image_id, record)
                    if image_ids <= records.keys():
                        break
        if records:
            found[name] = records
    return found


__all__ = ["ATTRIBUTES", "SAMPLE_DATA", "build_sample_data", "heldout_sample_data",
           "leaderboard_task_data", "parse_data_options", "read_sample_data", "task_sample_data",
           "write_sample_data"]
