"""``emovit bench export --to lmms-eval|vlmevalkit``: our benchmark inside other evaluation harnesses, so their
users can score a model on it without us; the mirror of ``emovit bench import --from``.

The rows are the samples our ``emoset8`` task scores on a build (:mod:`benchmarks.interop.benchmark_rows`); each
harness's layout is one module of :mod:`benchmarks.interop.exporters`. An export fills a fresh folder, as
``emovit export`` does (``--out`` new, empty or an earlier export, replaced whole), with ``export.json``
listing what it wrote. ``emovit export --format lmms-eval|vlmevalkit``, where these exports lived before, still
runs them (the ``emovit`` command says where they moved).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.interop.exporters import DEFAULT_NAMES, EXPORTERS


def export_benchmark(harness: str, build_dir: str | Path, out: str | Path, *, split: str = "test",
                     name: str | None = None) -> int:
    """Write the benchmark of the build ``build_dir`` for ``harness`` into ``out``; returns the rows written."""
    export = EXPORTERS.load(harness)
    return export(build_dir, out, split=split, name=name or DEFAULT_NAMES[harness])


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench export``'s arguments."""
    parser.description = ("Write the samples our emoset8 task scores on a build (one row per image of the split, in "
                          "split order, EmoVIT's instruction, images embedded) as another harness's task: "
                          + "; ".join(f"{name}: {entry.summary}" for name, entry in EXPORTERS.items()) + ".")
    parser.add_argument("--to", dest="harness", required=True, choices=tuple(EXPORTERS))
    parser.add_argument("--dataset", required=True, help="build directory written by 'emovit build'")
    parser.add_argument("--out", required=True,
                        help="folder to write (new, empty, or an earlier export: replaced as a whole)")
    parser.add_argument("--split", default="test", help="the split to export (default test)")
    parser.add_argument("--name", help="lmms-eval task name (default emoset8) / VLMEvalKit dataset name "
                                       "(default EmoSet8)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    name = args.name or DEFAULT_NAMES[args.harness]
    count = export_benchmark(args.harness, args.dataset, args.out, split=args.split, name=name)
    print(f"{args.harness}: {count} {args.split} images as {name} -> {args.out}")
    return 0


__all__ = ["add_arguments", "export_benchmark", "run"]
