"""The readers of other harnesses' saved outputs, one module per tool, registered in :data:`IMPORTERS`.

Each reads the tool's files exactly as the tool writes them into :class:`~benchmarks.interop.foreign.ForeignRun`
values (``read(paths, *, model=None, task=None, note=print) -> list[ForeignRun]``);
:mod:`benchmarks.interop.importing` (``emovit bench import``) turns them into run folders. Adding a tool is one
module here and one line below.

========== ============================================== =======================================================
tool       module                                         files
========== ============================================== =======================================================
lmms-eval  :mod:`benchmarks.interop.importers.lmms_eval`  ``<model>/<date>_samples_<task>.jsonl`` (>= 0.3) and
                                                          ``<task>.json`` with ``logs`` (<= 0.2.3)
vlmevalkit :mod:`benchmarks.interop.importers.vlmevalkit` ``<model>_<dataset>.xlsx`` / ``.tsv`` / ``.json``
========== ============================================== =======================================================
"""

from __future__ import annotations

from schemas.registry import Entry, Registry

#: tool name -> the function reading its files.
IMPORTERS = Registry("tool", {
    "lmms-eval": Entry("benchmarks.interop.importers.lmms_eval:read", "lmms-eval's per-sample logs (--log_samples)"),
    "vlmevalkit": Entry("benchmarks.interop.importers.vlmevalkit:read", "VLMEvalKit's prediction files"),
})

__all__ = ["IMPORTERS"]
