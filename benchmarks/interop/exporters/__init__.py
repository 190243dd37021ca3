"""Our benchmark written as other harnesses' tasks, one module per harness, registered in :data:`EXPORTERS`.

Each module's exporter is ``export(build_dir, out, *, split, name) -> rows written``; the rows are the
``emoset8`` task's samples (:mod:`benchmarks.interop.benchmark_rows`). ``emovit bench export --to NAME``
(:mod:`benchmarks.interop.exporting`) runs them; the answers the harnesses save come back with
``emovit bench import --from NAME``.
"""

from __future__ import annotations

from schemas.registry import Entry, Registry

#: harness -> its exporter; the summary names what it writes.
EXPORTERS = Registry("export format", {
    "lmms-eval": Entry("benchmarks.interop.exporters.lmms_eval:export_lmms_eval",
                       "an lmms-eval task folder (task YAML, utils.py, parquet)"),
    "vlmevalkit": Entry("benchmarks.interop.exporters.vlmevalkit:export_vlmevalkit",
                        "a VLMEvalKit custom multiple-choice TSV"),
})
#: The name each harness files the exported task under unless ``--name`` says otherwise.
DEFAULT_NAMES: dict[str, str] = {"lmms-eval": "emoset8", "vlmevalkit": "EmoSet8"}

__all__ = ["DEFAULT_NAMES", "EXPORTERS"]
