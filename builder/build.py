"""``emovit build``: run the ``datasets`` builder and write a build directory.

A build directory holds the ``DatasetDict`` in ``save_to_disk`` layout, ``report.json`` (counts per split,
kind and emotion; quarantine reasons; generator usage and cost; the run config and its fingerprint),
``quarantine.jsonl`` (one line per rejected input), ``build_config.json`` and a Markdown report with plots.
For every split: images selected for the build = images in the dataset + images quarantined.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from schemas.errors import UsageError
from schemas.protocol import KINDS
from schemas.runinfo import fingerprint, write_json

DEFAULT_CACHE = Path.home() / ".cache" / "emovit"


@dataclass(frozen=True)
class BuildConfig:
    """Everything that determines a build (saved as ``build_config.json`` beside the dataset)."""

    emoset_root: str
    config: str = "all"
    generator: str = "template"
    captioner: str = "attributes"
    splits: tuple[str, ...] | None = None
    sampling: str = "emovit"
    conversation_per_class: int = 1000
    reasoning_per_class: int = 100
    categorical_range: tuple[int, int] = (0, 4600)
    split_turns: bool = True
    embed_images: bool = False
    curation: str | None = None
    verify_images: bool = True
    generation: dict = field(default_factory=dict)
    seed: int = 42
    shard_images: int = 1000

    def builder_kwargs(self) -> dict:
        """Keyword arguments of :class:`builder.dataset_builder.EmoVITBuilderConfig`."""
        generation = {"split_turns": self.split_turns, "seed": self.seed, **self.generation}
        return {
            "data_dir": str(Path(self.emoset_root).resolve()), "sampling": self.sampling,
            "conversation_per_class": self.conversation_per_class, "reasoning_per_class": self.reasoning_per_class,
            "categorical_range": tuple(self.categorical_range), "generator": self.generator,
            "captioner": self.captioner, "generation": generation, "embed_images": self.embed_images,
            "splits": self.splits, "curation": self.curation, "verify_images": self.verify_images,
            "shard_images": self.shard_images,
        }


def _content_hash(dataset) -> str:
    """sha256 over a split's Arrow data: equal rows and features give equal hashes."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    table = dataset.data.table.combine_chunks()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def _adopt_prepared(builder, out: Path) -> None:
    """Move the builder's prepared Arrow files into ``out`` in ``save_to_disk`` layout.

    ``Dataset.save_to_disk`` would copy every row and, since datasets 4, read every image file into the
    copy; moving the files keeps images stored as the builder wrote them (paths or embedded bytes, per
    the build option) and costs nothing. The layout (``dataset_dict.json``, per split ``state.json`` and
    ``dataset_info.json``) is what ``datasets.load_from_disk`` reads; a test loads every build with it.
    """
    prepared = Path(builder.cache_dir)
    splits = list(builder.info.splits)
    for split in splits:
        files = sorted(prepared.glob(f"{builder.dataset_name}-{split}.arrow")) or sorted(
            prepared.glob(f"{builder.dataset_name}-{split}-*.arrow"))
        target = out / split
        target.mkdir()
        names = []
        for index, path in enumerate(files):
            name = f"data-{index:05d}-of-{len(files):05d}.arrow"
            shutil.move(str(path), target / name)
            names.append({"filename": name})
        info = builder.info.copy()
        info.splits = None
        info.write_to_directory(str(target))
        state = {"_data_files": names, "_fingerprint": "", "_format_columns": None, "_format_kwargs": {},
                 "_format_type": None, "_output_all_columns": False, "_split": split}
        (target / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True))
    (out / "dataset_dict.json").write_text(json.dumps({"splits": splits}))


def _set_fingerprints(out: Path, hashes: dict[str, str]) -> None:
    """Record each split's content hash as its ``datasets`` fingerprint."""
    for split, value in hashes.items():
        path = out / split / "state.json"
        state = json.loads(path.read_text())
        state["_fingerprint"] = value
        path.write_text(json.dumps(state, indent=2, sort_keys=True))


def _collect(side_dir: Path, split: str) -> tuple[dict, list[dict], dict]:
    from builder.dataset_builder import side_file
    from builder.records import read_quarantine

    plan = json.loads(side_file(side_dir, split, "plan").read_text())
    quarantine = read_quarantine(side_file(side_dir, split, "source"))
    images = {"images_kept": 0, "images_quarantined": 0}
    usage: Counter = Counter()
    for path in sorted(side_dir.glob(f"{split}.shard-*.json")):
        shard = json.loads(path.read_text())
        quarantine.extend(shard["quarantine"])
        images["images_kept"] += shard["images_kept"]
        images["images_quarantined"] += shard["images_quarantined"]
        usage.update(shard["usage"])
    return plan | images, quarantine, dict(usage)


def build_dataset(config: BuildConfig, out: str | Path, *, cache_dir: str | Path = DEFAULT_CACHE,
                  num_proc: int | None = None, progress: bool = True, plots: bool = True) -> dict:
    """Build the dataset of ``config`` into ``out``; returns the report (also written as ``report.json``)."""
    import datasets

    from builder.dataset_builder import EmoVITInstructions

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / "report.json").is_file():
            raise UsageError(f"{out}: exists and is not a build directory; choose an empty or new --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="emovit-build-"))
    try:
        if not progress:
            datasets.disable_progress_bars()
        builder = EmoVITInstructions(
            cache_dir=str(work / "hf"), config_name=config.config, side_dir=str(work / "side"),
            cache_root=str(cache_dir), progress=progress, **config.builder_kwargs(),
        )
        builder.download_and_prepare(num_proc=num_proc)
        _adopt_prepared(builder, out)
        built = datasets.load_from_disk(str(out))
        report = _report(config, built, work / "side", out)
        _set_fingerprints(out, {split: s["content_hash"] for split, s in report["splits"].items()})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["elapsed_s"] = round(time.perf_counter() - start, 3)
    samples = sum(s["samples"] for s in report["splits"].values())
    report["samples_per_s"] = round(samples / report["elapsed_s"], 1) if report["elapsed_s"] else None
    write_json(out / "build_config.json", config)
    write_json(out / "report.json", report)
    if plots:
        from builder.build_report import write_build_report

        write_build_report(out, built, report)
    return report


def _report(config: BuildConfig, built, side_dir: Path, out: Path) -> dict:
    from schemas.features import column
    from builder.generation.base import GenerationUsage

    splits, quarantine_codes, usage = {}, Counter(), GenerationUsage()
    with open(out / "quarantine.jsonl", "w", encoding="utf-8") as handle:
        for split, dataset in built.items():
            tally, quarantine, split_usage = _collect(side_dir, split)
            for entry in quarantine:
                handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            usage.add(GenerationUsage(**split_usage) if split_usage else GenerationUsage())
            codes = Counter(entry["code"] for entry in quarantine)
            quarantine_codes.update(codes)
            kind_column = column(dataset, "kind")
            kinds = Counter(kind_column)
            names = dataset.features["emotion"].names
            by_kind_emotion: dict[str, Counter] = {}
            for kind, label in zip(kind_column, column(dataset, "emotion")):
                by_kind_emotion.setdefault(kind, Counter())[names[label]] += 1
            selected = tally["selected"]
            splits[split] = {
                "entries": tally["entries"],
                "not_selected": tally["not_selected"],
                "inputs": selected + tally["source_quarantined"],
                "images_in_dataset": tally["images_kept"],
                "images_quarantined": tally["images_quarantined"] + tally["source_quarantined"],
                "balanced": selected == tally["images_kept"] + tally["images_quarantined"],
                "samples": len(dataset),
                "samples_per_kind": dict(sorted(kinds.items())),
                "samples_per_kind_emotion": {k: dict(sorted(v.items())) for k, v in sorted(by_kind_emotion.items())},
                "quarantined_entries": len(quarantine),
                "quarantine_codes": dict(sorted(codes.items())),
                "content_hash": _content_hash(dataset),
            }
    return {
        "command": "build",
        "config": asdict(config),
        "fingerprint": fingerprint(config),
        "splits": splits,
        "quarantine_codes": dict(sorted(quarantine_codes.items())),
        "generation": asdict(usage),
    }


def _parse_range(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise UsageError(f"--categorical-range must look like START:STOP, got {text!r}") from None
    return start, stop


def add_arguments(parser) -> None:
    parser.add_argument("--emoset-root", required=True, help="EmoSet-style root directory")
    parser.add_argument("--out", required=True, help="build directory (created; an old build there is replaced)")
    parser.add_argument("--config", default="all", choices=(*KINDS, "all"))
    parser.add_argument("--generator", default="template", help="template | openai:<model>")
    parser.add_argument("--captioner", default="attributes", help="attributes | file:<path> | blip2:<model or path>")
    parser.add_argument("--splits", help="comma-separated subset of the source's splits")
    parser.add_argument("--sampling", default="emovit", choices=("emovit", "all"),
                        help="emovit: per-class protocol below; all: every kind for every image")
    parser.add_argument("--conversation-per-class", type=int, default=1000)
    parser.add_argument("--reasoning-per-class", type=int, default=100)
    parser.add_argument("--categorical-range", default="0:4600", help="per-class index range START:STOP")
    parser.add_argument("--keep-conversations", action="store_true",
                        help="keep multi-turn answers as one conversation (default: one sample per QA pair)")
    parser.add_argument("--embed-images", action="store_true", help="store image bytes instead of paths")
    parser.add_argument("--curation", help="curation decisions file (see builder/curation_file.py)")
    parser.add_argument("--no-verify-images", action="store_true")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (openai generator)")
    parser.add_argument("--api-key-env", help="environment variable holding the API key (default OPENAI_API_KEY)")
    parser.add_argument("--max-in-flight", type=int, help="concurrent LLM requests")
    parser.add_argument("--temperature", type=float, help="sampling temperature of the LLM")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="caption and LLM response caches")
    parser.add_argument("--num-proc", type=int, help="processes for generation shards")
    parser.add_argument("--no-plots", action="store_true", help="skip the Markdown report and its plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args) -> BuildConfig:
    """The :class:`BuildConfig` described by parsed command-line arguments."""
    generation = {key: value for key, value in (
        ("base_url", args.base_url), ("api_key_env", args.api_key_env), ("max_in_flight", args.max_in_flight),
        ("temperature", args.temperature)) if value is not None}
    return BuildConfig(
        emoset_root=args.emoset_root, config=args.config, generator=args.generator, captioner=args.captioner,
        splits=tuple(s for s in args.splits.split(",") if s) if args.splits else None, sampling=args.sampling,
        conversation_per_class=args.conversation_per_class, reasoning_per_class=args.reasoning_per_class,
        categorical_range=_parse_range(args.categorical_range), split_turns=not args.keep_conversations,
        embed_images=args.embed_images, curation=args.curation, verify_images=not args.no_verify_images,
        generation=generation, seed=args.seed,
    )


def run(args) -> int:
    from tabulate import tabulate

    report = build_dataset(config_from_args(args), args.out, cache_dir=args.cache_dir, num_proc=args.num_proc,
                           progress=not args.quiet, plots=not args.no_plots)
    rows = [[split, s["entries"], s["images_in_dataset"], s["images_quarantined"], s["not_selected"],
             *(s["samples_per_kind"].get(kind, 0) for kind in KINDS),
             s["quarantined_entries"]] for split, s in report["splits"].items()]
    print(tabulate(rows, headers=["split", "entries", "images", "img quarantined", "not selected", "categorical",
                                  "conversation", "reasoning", "quarantine lines"]))
    usage = report["generation"]
    print(f"\nLLM requests {usage['requests']} (cached {usage['cached']}, failed {usage['failed']}), "
          f"tokens {usage['prompt_tokens']}+{usage['completion_tokens']}, est. cost ${usage['cost_usd']:.4f}; "
          f"{report['elapsed_s']:.1f} s -> {args.out}")
    return 0
