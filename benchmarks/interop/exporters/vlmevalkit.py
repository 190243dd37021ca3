"""``emovit bench export --to vlmevalkit``: our ``emoset8`` task as a VLMEvalKit custom multiple-choice set.

``<out>/<NAME>.tsv``, one row per test image, tab-separated with a header, in the layout VLMEvalKit's dataset
TSVs use: ``index`` (0, 1, ...), ``image`` (the image file's bytes, base64), ``image_id``, ``question``, one
column per option ``A`` ... ``H`` (the eight emotions in alphabetical order), ``answer`` (the gold option's
letter) and ``category`` (the gold emotion). Copy it to ``$LMUData/<NAME>.tsv`` and run
``python run.py --data <NAME> --model <model>``: VLMEvalKit treats an unknown dataset with ``A`` and ``B``
columns and images as a custom MCQ set (it asks the question with the options listed and scores letters).
Its prediction file comes back with ``emovit bench import --from vlmevalkit``.
"""

from __future__ import annotations

import base64
import csv
import re
import shutil
import string
from pathlib import Path

from benchmarks.data.samples import task_split
from benchmarks.interop.benchmark_rows import benchmark_rows, benchmark_task, short_question
from builder.dataset.outputs import check_output_folder, safe_child, staging_folder, swap_into_place
from schemas.errors import UsageError


def export_vlmevalkit(build_dir: str | Path, out: str | Path, *, split: str = "test", name: str = "EmoSet8") -> int:
    """Write ``<out>/<name>.tsv`` (replacing an earlier export); returns the number of rows."""
    from builder.publish.export import _write_marker, is_export_dir, load_build

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(f"--name {name!r}: a VLMEvalKit dataset name is letters, digits, '_', '.', '-'")
    out = Path(out)
    _, report = load_build(build_dir)
    task = benchmark_task(split)
    task_split(task, build_dir)  # the split exists and holds only the task's labels
    labels, question = list(task.labels), short_question(task)
    letters = string.ascii_uppercase[: len(labels)]  # one option column per label
    check_output_folder(out, is_export_dir, "an emovit export")
    staging = staging_folder(out)
    try:
        ready = staging / "export"
        ready.mkdir()
        count = 0
        with open(safe_child(ready, f"{name}.tsv"), "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["index", "image", "image_id", "question", *letters, "answer", "category"])
            for index, row in enumerate(benchmark_rows(task, build_dir)):
                writer.writerow([index, base64.b64encode(row.image).decode("ascii"), row.id, question,
                                 *labels, letters[labels.index(row.answer)], row.answer])
                count += 1
        _write_marker(ready, "vlmevalkit", report)
        swap_into_place(ready, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


__all__ = ["export_vlmevalkit"]
