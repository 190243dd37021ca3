"""``emovit export --format vlmevalkit``: our categorical benchmark as a VLMEvalKit custom multiple-choice set.

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

from builder.dataset.outputs import check_output_folder, safe_child, staging_folder, swap_into_place
from benchmarks.interop.benchmark_rows import LABELS, SHORT_QUESTION, benchmark_rows, benchmark_split
from schemas.errors import UsageError

LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase[: len(LABELS)])
COLUMNS: tuple[str, ...] = ("index", "image", "image_id", "question", *LETTERS, "answer", "category")


def export_vlmevalkit(build_dir: str | Path, out: str | Path, *, split: str = "test", name: str = "EmoSet8") -> int:
    """Write ``<out>/<name>.tsv`` (replacing an earlier export); returns the number of rows."""
    from builder.publish.export import _write_marker, is_export_dir, load_build

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(f"--name {name!r}: a VLMEvalKit dataset name is letters, digits, '_', '.', '-'")
    out = Path(out)
    _, report = load_build(build_dir)
    dataset = benchmark_split(build_dir, split)
    check_output_folder(out, is_export_dir, "an emovit export")
    staging = staging_folder(out)
    try:
        ready = staging / "export"
        ready.mkdir()
        count = 0
        with open(safe_child(ready, f"{name}.tsv"), "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            for index, row in enumerate(benchmark_rows(dataset)):
                if row.answer not in LABELS:
                    raise UsageError(f"{build_dir}: image {row.id} has emotion {row.answer!r}, not one of "
                                     f"{', '.join(LABELS)}")
                writer.writerow([index, base64.b64encode(row.image).decode("ascii"), row.id, SHORT_QUESTION,
                                 *LABELS, LETTERS[LABELS.index(row.answer)], row.answer])
                count += 1
        _write_marker(ready, "vlmevalkit", report)
        swap_into_place(ready, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


__all__ = ["COLUMNS", "LETTERS", "export_vlmevalkit"]
