"""Our benchmark as other harnesses ask it: the samples of the ``emoset8`` task, read from its task file and
the sample builder, never restated here.

The task (``benchmarks/tasks/emoset8.yaml``) gives the split (default ``test``), the candidate labels in the
order the instruction lists them, and the instruction; the sample builder (:mod:`benchmarks.data.samples`)
gives the selection: every distinct image of the split (its first row), in split order, id = image id, gold =
the row's emotion, an emotion the task does not list refused. So a run of ours on ``emoset8`` and a run of
lmms-eval or VLMEvalKit on the export score the same samples, sample by sample. Image bytes are read one at a
time (from the build, or from the source tree when the build stores paths), so a large split never sits in
memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.data.samples import first_rows, task_split
from benchmarks.spec.task import Task, load_task

#: The task the exports hold.
TASK = "emoset8"


@dataclass(frozen=True)
class BenchmarkRow:
    """One test image: its id, gold label, encoded bytes and file suffix."""

    id: str
    answer: str
    image: bytes
    suffix: str


def benchmark_task(split: str | None = None) -> Task:
    """The exported task (:data:`TASK`), reading ``split`` instead of its own when one is given."""
    task = load_task(TASK)
    return task if split is None else replace(task, split=split)


def instruction(task: Task) -> str:
    """The question the task asks every image (its one instruction, options filled in)."""
    (question,) = task.questions().values()
    return question


def short_question(task: Task) -> str:
    """The question without its inline option list, for harnesses that list the options themselves."""
    return instruction(task).split(" from the following options")[0] + "."


def benchmark_rows(task: Task, build_dir: str | Path) -> Iterator[BenchmarkRow]:
    """The task's samples of the build, as :class:`BenchmarkRow` values, one image read at a time."""
    import datasets

    from schemas.features import column

    split, gold = task_split(task, build_dir)
    first = first_rows(column(split, "image_id"))
    chosen = split.select(list(first.values())).select_columns(["image"])
    chosen = chosen.cast_column("image", datasets.Image(decode=False))
    for (image_id, index), row in zip(first.items(), chosen):
        image = row["image"]
        data = image["bytes"] if image.get("bytes") is not None else Path(image["path"]).read_bytes()
        yield BenchmarkRow(image_id, gold[index], data, Path(image.get("path") or "x.jpg").suffix or ".jpg")


__all__ = ["TASK", "BenchmarkRow", "benchmark_rows", "benchmark_task", "instruction", "short_question"]
