"""``emovit curate load|app|decisions``: curate a build visually with FiftyOne.

    emovit curate load --dataset BUILD --name NAME [--predictions FILE_OR_RUN_DIR ...]
    emovit curate load --emoset-root TREE --name NAME
    emovit curate app --name NAME [--port 5151]
    emovit curate decisions --name NAME --out decisions.json
    emovit build --emoset-root TREE --out BUILD2 --curation decisions.json

Every subcommand takes ``--database-dir DIR`` (FiftyOne's ``FIFTYONE_DATABASE_DIR`` for this run).
"""

from __future__ import annotations

import argparse

from builder.curation.app import DEFAULT_PORT
from builder.sources.imagefiles import DEFAULT_MAX_PIXELS


def _database_option(parser) -> None:
    parser.add_argument("--database-dir", help="FiftyOne database directory (default: FIFTYONE_DATABASE_DIR, "
                                                "else FiftyOne's ~/.fiftyone/var/lib/mongo)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="action", required=True, metavar="{load,app,decisions}")
    load = commands.add_parser("load", help="create or update a FiftyOne dataset from a build (or raw tree) "
                                            "and compute the quality signals")
    source = load.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="build directory written by 'emovit build'")
    source.add_argument("--emoset-root", help="raw EmoSet-style tree (no captions or instructions)")
    load.add_argument("--name", required=True, help="FiftyOne dataset name (created, or updated by image id)")
    load.add_argument("--predictions", action="append", default=[], metavar="FILE_OR_RUN_DIR",
                      help="a benchmark run's predictions.jsonl, or its run directory (repeatable)")
    load.add_argument("--media-dir", help="where images embedded in the build are written "
                                          "(default ~/.cache/emovit/curation/NAME/media)")
    load.add_argument("--batch-size", type=int, default=1000, help="samples added per database batch")
    load.add_argument("--embeddings-model", metavar="DIR",
                      help="InstructBLIP/BLIP-2 save_pretrained folder: embed with its vision encoder instead of "
                           "the offline 8x8 tiny-image embedding")
    load.add_argument("--pixel-threshold", type=float, default=0.3,
                      help="pixel-mismatch: |annotation - pixels| at or above this (default 0.3)")
    load.add_argument("--duplicate-threshold", type=float, default=0.02,
                      help="near-duplicates: embedding distance within this (default 0.02: the RMS difference of "
                           "8x8 thumbnails on a 0-1 scale; with --embeddings-model, of unit-length features)")
    load.add_argument("--mistakenness-threshold", type=float, default=0.7,
                      help="likely-label-errors: mistakenness at or above this (default 0.7)")
    load.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                      help=f"pixel limit (width x height, read from the header before decoding; default "
                           f"{DEFAULT_MAX_PIXELS:,}): a larger image stops the load (a raw tree: it is skipped)")
    load.add_argument("--no-signals", action="store_true", help="load samples only (instruction flags included)")
    load.add_argument("--no-visualization", action="store_true", help="skip the PCA embeddings plot")
    load.add_argument("--quiet", action="store_true", help="no progress bars")
    _database_option(load)

    app = commands.add_parser("app", help="serve the FiftyOne App for a dataset on 127.0.0.1")
    app.add_argument("--name", required=True, help="FiftyOne dataset name")
    app.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    _database_option(app)

    decisions = commands.add_parser("decisions", help="write the curation decisions file from App tags "
                                                      "('exclude', 'relabel:<emotion>')")
    decisions.add_argument("--name", required=True, help="FiftyOne dataset name")
    decisions.add_argument("--out", required=True, help="decisions file to write (emovit-curation/1 JSON)")
    _database_option(decisions)


def _run_load(args) -> int:
    from builder.curation.pipeline import CurateConfig, curate
    from builder.curation.signals import SignalConfig

    config = CurateConfig(
        name=args.name, build=args.dataset, emoset_root=args.emoset_root, predictions=tuple(args.predictions),
        media_dir=args.media_dir, batch_size=args.batch_size, signals=not args.no_signals,
        signal=SignalConfig(pixel_threshold=args.pixel_threshold, duplicate_threshold=args.duplicate_threshold,
                            mistakenness_threshold=args.mistakenness_threshold,
                            embeddings_model=args.embeddings_model, visualization=not args.no_visualization,
                            max_pixels=args.max_pixels),
        database_dir=args.database_dir)
    result = curate(config, progress=not args.quiet)
    loaded = result.load
    rate = loaded.images / result.load_seconds if result.load_seconds else 0.0
    print(f"dataset {loaded.name!r}: {loaded.images} images ({loaded.added} added, {loaded.updated} updated, "
          f"{loaded.not_in_source} no longer in the source) in {result.load_seconds:.1f} s ({rate:,.0f} images/s)")
    if loaded.skipped_entries:
        print(f"{loaded.skipped_entries} tree entries could not be read (see 'emovit validate')")
    for line in result.rejected_prediction_lines[:5]:
        print(f"rejected prediction: {line}")
    if len(result.rejected_prediction_lines) > 5:
        print(f"... {len(result.rejected_prediction_lines) - 5} more rejected prediction lines")
    summary = result.signals
    if summary is not None:
        from tabulate import tabulate

        from builder.curation import views

        rows = [[views.PIXEL_MISMATCH, summary.pixel_mismatch],
                [views.NEAR_DUPLICATES, f"{summary.near_duplicates} ({summary.duplicate_groups} groups)"],
                [views.INSTRUCTION_FLAGS, summary.instruction_flags],
                [views.LIKELY_LABEL_ERRORS, (f"{summary.likely_label_errors} (models with scores: "
                                             f"{', '.join(summary.models) or 'none'})")]]
        rows += [[name, images] for name, images in summary.misclassified.items()]
        print(tabulate(rows, headers=["saved view", "images"]))
        print(f"signals in {result.signal_seconds:.1f} s")
    database = f" --database-dir {args.database_dir}" if args.database_dir else ""
    print(f"browse: emovit curate app --name {loaded.name}{database}")
    return 0


def _run_decisions(args) -> int:
    from pathlib import Path

    from builder.curation.database import load_dataset
    from builder.curation.decisions import ignored_tags, write_decisions
    from builder.curation.pipeline import check_dataset_name
    from schemas.errors import UsageError

    check_dataset_name(args.name)
    if Path(args.out).is_dir():
        raise UsageError(f"--out {args.out}: is a folder; give the decisions file's path (e.g. {args.out}/decisions.json)")
    dataset = load_dataset(args.name, args.database_dir)
    decisions = write_decisions(dataset, args.out)
    print(f"{len(decisions.exclude)} excluded, {len(decisions.relabel)} relabelled -> {args.out}")
    for tag, count in sorted(ignored_tags(dataset).items()):
        print(f"ignored tag {tag!r} on {count} image(s): not 'exclude' or 'relabel:<emotion>'")
    print(f"apply: emovit build --emoset-root TREE --out BUILD --curation {args.out}")
    return 0


def run(args) -> int:
    if args.action == "load":
        return _run_load(args)
    if args.action == "app":
        from builder.curation.app import serve
        from builder.curation.pipeline import check_dataset_name

        check_dataset_name(args.name)
        return serve(args.name, port=args.port, database_dir=args.database_dir)
    return _run_decisions(args)
