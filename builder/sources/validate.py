"""``emovit validate``: read an EmoSet-style tree, check it, and write ``report.json`` + ``quarantine.jsonl``."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from builder.sources.emoset import EmoSetSource, SourceError
from builder.sources.imagefiles import DEFAULT_MAX_PIXELS, add_image_options
from builder.sources.records import write_jsonl
from schemas.errors import UsageError
from schemas.runinfo import SplitTally, fingerprint, summary_table, write_json


@dataclass(frozen=True)
class ValidateConfig:
    """Everything that determines a validation result."""

    emoset_root: str
    verify_images: bool = True
    vocab_fallback: bool = True
    splits: tuple[str, ...] | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.splits is not None:
            repeated = sorted({split for split in self.splits if self.splits.count(split) > 1})
            if repeated:
                raise UsageError(f"--splits names {', '.join(repeated)} more than once")


@dataclass
class ValidationReport:
    """Per-split tallies of a validation run plus where its files went."""

    config: ValidateConfig
    tallies: dict[str, SplitTally]
    vocabulary: str
    emotions: tuple[str, ...]
    elapsed_s: float

    def as_dict(self) -> dict:
        inputs = sum(t.inputs for t in self.tallies.values())
        return {
            "command": "validate",
            "config": self.config,
            "fingerprint": fingerprint(self.config),
            "vocabulary": self.vocabulary,
            "splits": {split: tally.as_dict() for split, tally in self.tallies.items()},
            "totals": {
                "inputs": inputs,
                "kept": sum(t.kept for t in self.tallies.values()),
                "quarantined": sum(t.quarantined for t in self.tallies.values()),
            },
            "quarantine_codes": dict(sum((t.quarantine_codes for t in self.tallies.values()), Counter())),
            "elapsed_s": round(self.elapsed_s, 3),
            "records_per_s": round(inputs / self.elapsed_s, 1) if self.elapsed_s else None,
        }


def validate_tree(config: ValidateConfig, out: str | Path | None = None, *, progress: bool = False) -> ValidationReport:
    """Validate the tree of ``config``; with ``out``, write ``report.json`` and ``quarantine.jsonl`` there.

    Both files are written under temporary names and renamed into place once the whole tree was read, so a
    run that fails half-way leaves the previous pair as it was."""
    import os
    import uuid

    from tqdm.auto import tqdm

    start = time.perf_counter()
    if out is not None:
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: exists and is not a folder; choose another --out")
    source = EmoSetSource(config.emoset_root, verify_images=config.verify_images,
                          vocab_fallback=config.vocab_fallback, max_pixels=config.max_pixels)
    unknown = [split for split in config.splits or () if split not in source.splits]
    if unknown:
        raise SourceError(f"{config.emoset_root}: no split(s) {', '.join(unknown)} (have {', '.join(source.splits)})")
    tallies = {split: SplitTally() for split in (config.splits or source.splits)}
    quarantine_handle = None
    pending = [] if out is None else [out / f".{name}.partial-{uuid.uuid4().hex[:8]}"
                                      for name in ("quarantine.jsonl", "report.json")]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        quarantine_handle = open(pending[0], "w", encoding="utf-8", newline="")
    try:
        # delay: a run that fails at once (a malformed split file) prints its error, not an empty bar
        with tqdm(desc="validate", unit="entry", disable=not progress, delay=1.0) as bar:
            for batch in source.read_all(tuple(tallies)):
                tally = tallies[batch.split]
                tally.kept += len(batch.records)
                tally.quarantined += len(batch.quarantined)
                tally.inputs += len(batch.records) + len(batch.quarantined)
                tally.emotions.update(record.emotion for record in batch.records)
                tally.quarantine_codes.update(entry.code for entry in batch.quarantined)
                if quarantine_handle is not None:
                    write_jsonl(quarantine_handle, batch.quarantined)
                bar.update(len(batch.records) + len(batch.quarantined))
        report = ValidationReport(config, tallies, source.vocab.source, source.vocab.emotions,
                                  time.perf_counter() - start)
        if out is not None:
            quarantine_handle.close()
            write_json(pending[1], report.as_dict())
            os.replace(pending[0], out / "quarantine.jsonl")
            os.replace(pending[1], out / "report.json")
    finally:
        if quarantine_handle is not None:
            quarantine_handle.close()
        for path in pending:
            path.unlink(missing_ok=True)
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--emoset-root", required=True, help="EmoSet-style root directory")
    parser.add_argument("--out", help="directory for report.json and quarantine.jsonl")
    parser.add_argument("--splits", help="comma-separated subset of splits")
    add_image_options(parser)
    parser.add_argument("--no-vocab-fallback", action="store_true",
                        help="fail when the tree has no info.json instead of using the packaged vocabulary")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    config = ValidateConfig(
        emoset_root=str(Path(args.emoset_root)),
        verify_images=not args.no_verify_images,
        vocab_fallback=not args.no_vocab_fallback,
        splits=tuple(s for s in args.splits.split(",") if s) if args.splits else None,
        max_pixels=args.max_pixels,
    )
    report = validate_tree(config, args.out, progress=not args.quiet)
    print(summary_table(report.tallies, report.emotions))
    totals = report.as_dict()["totals"]
    print(f"\n{totals['kept']} records, {totals['quarantined']} quarantined of {totals['inputs']} entries "
          f"({report.elapsed_s:.1f} s)" + (f"; report in {args.out}" if args.out else ""))
    return 0

