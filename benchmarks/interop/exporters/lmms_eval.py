"""``emovit bench export --to lmms-eval``: our ``emoset8`` task as an lmms-eval task folder.

::

    <out>/<name>.yaml             the task: dataset_path parquet, local data_files, generate_until, functions
                                  from utils.py, accuracy and parse_failure averaged
    <out>/utils.py                doc_to_visual, doc_to_text, doc_to_target, process_results, and emovit's
                                  answer parser (a copy of exporters/lmms_eval_utils.py: self-contained)
    <out>/<name>_<split>.parquet  one row per test image: id, image_id, image, question, options, answer,
                                  category (written by datasets, so the image column decodes to PIL)
    <out>/export.json

Run it with ``lmms-eval --include_path <out> --tasks <name> ...``. ``data_files`` is the parquet file's
absolute path at export time (lmms-eval hands it to ``datasets.load_dataset`` as is): export again, or edit
that one line, after moving the folder. The answers lmms-eval logs (``--log_samples``) come back with
``emovit bench import --from lmms-eval``.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from benchmarks.data.samples import task_split
from benchmarks.interop.benchmark_rows import benchmark_rows, benchmark_task, instruction
from builder.dataset.outputs import check_output_folder, safe_child, staging_folder, swap_into_place

#: Generation budget of the task (a categorical answer is a few tokens).
MAX_NEW_TOKENS = 16


def utils_source() -> str:
    """The ``utils.py`` lmms-eval imports (the packaged :mod:`benchmarks.interop.exporters.lmms_eval_utils`,
    verbatim)."""
    return resources.files("benchmarks.interop.exporters").joinpath("lmms_eval_utils.py").read_text(encoding="utf-8")


def task_yaml(name: str, split: str, data_file: Path) -> str:
    """The task YAML (written as text: lmms-eval's ``!function`` tags are not plain YAML)."""
    quoted = json.dumps  # a JSON string is a valid YAML scalar
    return "\n".join([
        f"# emovit benchmark task {name}: EmoVIT's categorical instruction, answers read by emovit's parser",
        f"task: {quoted(name)}",
        "dataset_path: parquet",
        "dataset_kwargs:",
        "  data_files:",
        f"    {split}: {quoted(str(data_file))}",
        f"test_split: {split}",
        "output_type: generate_until",
        "doc_to_visual: !function utils.doc_to_visual",
        "doc_to_text: !function utils.doc_to_text",
        "doc_to_target: !function utils.doc_to_target",
        "process_results: !function utils.process_results",
        "generation_kwargs:",
        f"  max_new_tokens: {MAX_NEW_TOKENS}",
        "  temperature: 0",
        "  do_sample: false",
        "metric_list:",
        "  - metric: accuracy",
        "    aggregation: mean",
        "    higher_is_better: true",
        "  - metric: parse_failure",
        "    aggregation: mean",
        "    higher_is_better: false",
        "lmms_eval_specific_kwargs:",
        "  default:",
        "    pre_prompt: \"\"",
        "    post_prompt: \"\"",
        "metadata:",
        "  version: 1.0",
        "",
    ])


def _features():
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"), "image_id": datasets.Value("string"), "image": datasets.Image(),
        "question": datasets.Value("string"), "options": datasets.List(datasets.Value("string")),
        "answer": datasets.Value("string"), "category": datasets.Value("string")})


def _generate(build_dir: str, split: str):
    task = benchmark_task(split)
    question, options = instruction(task), list(task.labels)
    for row in benchmark_rows(task, build_dir):
        yield {"id": row.id, "image_id": row.id, "image": {"bytes": row.image, "path": f"{row.id}{row.suffix}"},
               "question": question, "options": options, "answer": row.answer, "category": row.answer}


def export_lmms_eval(build_dir: str | Path, out: str | Path, *, split: str = "test", name: str = "emoset8") -> int:
    """Write the task folder into ``out`` (replacing an earlier export); returns the number of documents."""
    import datasets

    from builder.publish.export import _write_marker, is_export_dir, load_build

    out = Path(out)
    _, report = load_build(build_dir)
    task_split(benchmark_task(split), build_dir)  # the split exists and holds only the task's labels
    check_output_folder(out, is_export_dir, "an emovit export")
    staging = staging_folder(out)
    try:
        ready = staging / "export"
        ready.mkdir()
        data_name = f"{name}_{split}.parquet"
        table = datasets.Dataset.from_generator(_generate, features=_features(), cache_dir=str(staging / "cache"),
                                                gen_kwargs={"build_dir": str(build_dir), "split": split})
        table.to_parquet(str(safe_child(ready, data_name)))
        safe_child(ready, f"{name}.yaml").write_text(task_yaml(name, split, out.resolve() / data_name),
                                                     encoding="utf-8")
        (ready / "utils.py").write_text(utils_source(), encoding="utf-8")
        _write_marker(ready, "lmms-eval", report)
        count = len(table)
        del table
        swap_into_place(ready, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count


__all__ = ["MAX_NEW_TOKENS", "export_lmms_eval", "task_yaml", "utils_source"]
