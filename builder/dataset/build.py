"""``emovit build``: run the ``datasets`` builder and write a build directory.

A build directory holds the ``DatasetDict`` in ``save_to_disk`` layout, ``report.json`` (counts per split,
kind and emotion; quarantine reasons; generator usage, prices and cost; the run config and its
fingerprint), ``quarantine.jsonl`` (one line per rejected input), ``build_config.json`` and a Markdown
report with plots. For every split: inputs = images in the dataset + images quarantined + images curated.

The build is written into a hidden sibling folder and swapped in only when everything succeeded, so a
failed build never leaves a half-written folder and never costs the previous good build: a build whose
generations failed beyond ``max_failure_rate`` replaces only a missing, empty or failed ``--out``; over a
good build it is written beside it as ``<out>.failed``. A lock on ``--out`` keeps two builds from writing
it at once. Specs, files and API keys are checked before any work starts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from builder.dataset.config import BuildConfig, generator_prices
from builder.dataset.outputs import staged_output, swap_into_place
from builder.dataset.stored import content_hash, is_build_dir, record_batches
from builder.sources.imagefiles import add_image_options
from schemas.errors import UsageError
from schemas.protocol import KINDS
from schemas.runinfo import fingerprint, write_json


def make_builder(config: BuildConfig, *, cache_dir=None, hf_cache_dir=None, progress: bool = False):
    """The ``datasets`` builder carrying ``config`` (its options were checked when it was made)."""
    from builder.dataset.builder import EmoVITInstructions

    return EmoVITInstructions(cache_dir=None if hf_cache_dir is None else str(hf_cache_dir), options=config,
                              emovit_cache_dir=cache_dir, progress=progress)


def user_error(exc: BaseException) -> UsageError | None:
    """The :class:`UsageError` behind ``exc`` (``datasets`` wraps what a builder raises), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UsageError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _adopt_prepared(builder, out: Path) -> None:
    """Move the builder's prepared Arrow files into ``out`` in ``save_to_disk`` layout.

    ``Dataset.save_to_disk`` would copy every row and read every image file into the copy (it always
    embeds local files); moving the files keeps images stored as the builder wrote them (paths or embedded
    bytes, per the build option) and costs nothing. The layout (``dataset_dict.json``, per split
    ``state.json`` and ``dataset_info.json``) is what ``datasets.load_from_disk`` reads; the tests load
    every build with it.
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


#: Suffix of the folder a failed build is written to when ``--out`` holds a good build.
FAILED_SUFFIX = ".failed"
#: How many examples of cross-split duplicates and unknown curation ids the report lists.
EXAMPLES = 20


def failed_build_path(out: Path) -> Path:
    """Where a failed build goes when ``out`` holds a good one: ``<out>.failed`` beside it."""
    return out.parent / f"{out.name}{FAILED_SUFFIX}"


def is_good_build(path: Path) -> bool:
    """Whether ``path`` holds a build whose report says ``status: ok``."""
    if not is_build_dir(path):
        return False
    try:
        return json.loads((path / "report.json").read_text(encoding="utf-8")).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def build_dataset(config: BuildConfig, out: str | Path, *, cache_dir: str | Path | None = None,
                  num_proc: int | None = None, progress: bool = True, plots: bool = True) -> dict:
    """Build the dataset of ``config`` into ``out``; returns the report (also written as ``report.json``),
    with ``written_to`` added: the folder the build went to.

    ``out`` may be missing, empty or an earlier build (replaced only when this one succeeds). The report's
    ``status`` is ``"failed"`` when more than ``config.max_failure_rate`` of the generations failed; such a
    build replaces a failed or missing ``out`` but never a good build, beside which it goes to
    ``<out>.failed``.
    """
    import datasets

    out = Path(out)
    start = time.perf_counter()
    with staged_output(out, is_build_dir, "a build directory") as staging:
        builder = make_builder(config, cache_dir=cache_dir, hf_cache_dir=staging / "hf", progress=progress)
        builder.check_setup()
        if not progress:
            datasets.disable_progress_bars()
        try:
            builder.download_and_prepare(num_proc=num_proc)
        except Exception as exc:  # the builder's own errors arrive wrapped by datasets
            problem = user_error(exc)
            if problem is None:
                raise
            raise problem from None
        ready = staging / "build"
        ready.mkdir()
        _adopt_prepared(builder, ready)
        built = datasets.load_from_disk(str(ready))
        report = _report(config, built, builder, ready)
        _set_fingerprints(ready, {split: s["content_hash"] for split, s in report["splits"].items()})
        report["elapsed_s"] = round(time.perf_counter() - start, 3)
        samples = sum(s["samples"] for s in report["splits"].values())
        report["samples_per_s"] = round(samples / report["elapsed_s"], 1) if report["elapsed_s"] else None
        write_json(ready / "build_config.json", config)
        write_json(ready / "report.json", report)
        if plots:
            from builder.dataset.report import write_build_report

            write_build_report(ready, built, report)
        target = out
        if report["status"] != "ok" and is_good_build(out):
            target = failed_build_path(out)
            with staged_output(target, is_build_dir, "a build directory"):
                swap_into_place(ready, target)
        else:
            swap_into_place(ready, out)
    return report | {"written_to": str(target)}


def cross_split_duplicates(builder, splits: list[str], checked: bool) -> dict:
    """Images of a later split byte-identical to an image of an earlier split (sha256 of the files)."""
    from builder.dataset.plan import Digests

    if not checked:
        return {"checked": False, "note": "images were not verified (--no-verify-images), so not hashed"}
    digests = Digests()
    for index, split in enumerate(splits):
        for position, _, digest in builder.image_hashes(split):
            digests.add(digest, index, position)
    found = [(split, position, first, first_position)
             for split, position, first, first_position in digests.repeats() if split != first]
    wanted = {(splits[s], p) for s, p, _, _ in found[:EXAMPLES]} | {(splits[f], q) for _, _, f, q in found[:EXAMPLES]}
    ids = {(split, position): image_id for split in {name for name, _ in wanted}
           for position, image_id, _ in builder.image_hashes(split) if (split, position) in wanted}
    per_split: dict[str, int] = {}
    for split, *_ in found:
        per_split[splits[split]] = per_split.get(splits[split], 0) + 1
    return {
        "checked": True, "images": len(found), "per_split": per_split,
        "examples": [{"split": splits[s], "id": ids.get((splits[s], p)), "same_bytes_as_split": splits[f],
                      "same_bytes_as_id": ids.get((splits[f], q))} for s, p, f, q in found[:EXAMPLES]],
    }


def curation_summary(config: BuildConfig, builder, splits: list[str]) -> dict | None:
    """The decisions file's counts, and the ids it names that no entry of the built splits has."""
    if not config.curation:
        return None
    from builder.dataset.curation_file import CurationDecisions

    decisions = CurationDecisions.load(config.curation, builder._vocab().emotions)
    seen = {image_id for split in splits for image_id in builder.curation_seen(split)}
    unknown = sorted(set(decisions.exclude) - seen) + sorted(set(decisions.relabel) - seen)
    return {"excluded_ids": len(decisions.exclude), "relabelled_ids": len(decisions.relabel),
            "ids_not_in_tree": len(unknown), "examples_not_in_tree": unknown[:EXAMPLES]}


def _report(config: BuildConfig, built, builder, out: Path) -> dict:
    from collections import Counter

    import pyarrow as pa

    from builder.generation.base import GenerationUsage
    from schemas.jsonlines import dumps_line

    tallies = builder.tallies()
    splits, quarantine_codes, usage = {}, Counter(), GenerationUsage()
    with open(out / "quarantine.jsonl", "w", encoding="utf-8", newline="") as handle:
        for split, dataset in built.items():
            tally = tallies.get(split, {})

            def count(key: str, tally: dict = tally) -> int:  # a split without shards has no tally
                return int(tally.get(key, 0))

            codes: Counter = Counter()
            lines = 0
            for entry in builder.quarantine(split):
                handle.write(dumps_line(entry))
                codes[entry["code"]] += 1
                lines += 1
            quarantine_codes.update(codes)
            split_usage = GenerationUsage(**tally["usage"]) if tally.get("usage") else GenerationUsage()
            usage.add(split_usage)
            names = dataset.features["emotion"].names
            per_kind: Counter = Counter()
            per_kind_emotion: dict[str, Counter] = {}
            for batch in record_batches(dataset, ["kind", "emotion"]):
                groups = pa.Table.from_batches([batch]).group_by(["kind", "emotion"]).aggregate([([], "count_all")])
                for group in groups.to_pylist():
                    per_kind[group["kind"]] += group["count_all"]
                    per_kind_emotion.setdefault(group["kind"], Counter())[names[group["emotion"]]] += \
                        group["count_all"]
            kept, quarantined, curated = count("images_kept"), count("images_quarantined") + \
                count("source_quarantined"), count("curated")
            inputs = count("entries") - count("not_selected")
            splits[split] = {
                "entries": count("entries"),
                "not_selected": count("not_selected"),
                "inputs": inputs,
                "images_in_dataset": kept,
                "images_quarantined": quarantined,
                "images_curated": curated,
                "images_relabelled": count("relabelled"),
                "balanced": inputs == kept + quarantined + curated
                and count("entries") == tally.get("entries_planned", 0),
                "samples": len(dataset),
                "samples_per_kind": dict(sorted(per_kind.items())),
                "samples_per_kind_emotion": {k: dict(sorted(v.items())) for k, v in sorted(per_kind_emotion.items())},
                "quarantined_entries": lines,
                "quarantine_codes": dict(sorted(codes.items())),
                "content_hash": content_hash(dataset),
            }
    generation = asdict(usage) | {"failure_rate": round(usage.failure_rate, 6), "prices": generator_prices(config)}
    failed = usage.failure_rate > config.max_failure_rate
    report = {
        "command": "build",
        "config": asdict(config),
        "fingerprint": fingerprint(config),
        "source_root": os.path.realpath(config.emoset_root),
        "splits": splits,
        "quarantine_codes": dict(sorted(quarantine_codes.items())),
        "cross_split_duplicates": cross_split_duplicates(builder, list(splits), config.verify_images),
        "generation": generation,
        "status": "failed" if failed else "ok",
    }
    curation = curation_summary(config, builder, list(splits))
    if curation is not None:
        report["curation"] = curation
    if failed:
        report["problem"] = (f"{usage.failed} of {usage.generations} generations failed "
                             f"({usage.failure_rate:.1%} > --max-failure-rate {config.max_failure_rate:.1%})")
    return report


# ---------------------------------------------------------------------------------------------------- CLI
def _parse_range(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise UsageError(f"--categorical-range must look like START:STOP, got {text!r}") from None
    return start, stop


def add_arguments(parser) -> None:
    from builder.storage import default_cache_dir

    parser.add_argument("--emoset-root", required=True, help="EmoSet-style root directory")
    parser.add_argument("--out", help="required (except with --dry-run): build directory (new, empty, or an "
                                      "earlier build: replaced only on success)")
    parser.add_argument("--config", default="all", choices=(*KINDS, "all"))
    parser.add_argument("--generator", default="template", help="template | openai:<model> | openai-batch:<model>")
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
    parser.add_argument("--curation", help="curation decisions file (see builder/dataset/curation_file.py)")
    add_image_options(parser)
    parser.add_argument("--exclude-cross-split-duplicates", action="store_true",
                        help="leave out of a later split every image byte-identical to one of an earlier split "
                             "(quarantine code duplicate_content; reads every image once more before the shards)")
    parser.add_argument("--source-name", help="how the dataset card names the source (default: the root's folder name)")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (openai generator)")
    parser.add_argument("--api-key-env", help="environment variable holding the API key (default OPENAI_API_KEY)")
    parser.add_argument("--max-in-flight", type=int, help="concurrent LLM requests (default 8)")
    parser.add_argument("--max-retries", type=int, help="retries per request after 429/5xx/timeouts (default 5)")
    parser.add_argument("--temperature", type=float, help="sampling temperature of the LLM")
    parser.add_argument("--price-per-million-input", type=float, metavar="USD",
                        help="prompt-token price for the cost report (default: the model's list price, if known)")
    parser.add_argument("--price-per-million-output", type=float, metavar="USD",
                        help="completion-token price for the cost report (default: the model's list price, if known)")
    parser.add_argument("--max-failure-rate", type=float, default=0.05,
                        help="exit non-zero when more than this share of generations failed (default 0.05)")
    parser.add_argument("--dry-run", action="store_true",
                        help="read, sample and render every prompt; print requests, estimated tokens and cost; "
                             "send nothing and write nothing")
    parser.add_argument("--token-estimate", choices=("chars", "tiktoken"), default="chars",
                        help="dry-run token count: chars (characters/4, offline) or tiktoken (needs its download)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache-dir", default=str(default_cache_dir()), help="caption and LLM response caches")
    parser.add_argument("--num-proc", type=int, help="processes for generation shards")
    parser.add_argument("--no-plots", action="store_true", help="skip the Markdown report and its plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args) -> BuildConfig:
    """The :class:`BuildConfig` described by parsed command-line arguments."""
    generation = {key: value for key, value in (
        ("base_url", args.base_url), ("api_key_env", args.api_key_env), ("max_in_flight", args.max_in_flight),
        ("max_retries", args.max_retries),
        ("temperature", args.temperature), ("price_per_million_input", args.price_per_million_input),
        ("price_per_million_output", args.price_per_million_output)) if value is not None}
    return BuildConfig(
        emoset_root=args.emoset_root, config=args.config, generator=args.generator, captioner=args.captioner,
        splits=tuple(s for s in args.splits.split(",") if s) if args.splits else None, sampling=args.sampling,
        conversation_per_class=args.conversation_per_class, reasoning_per_class=args.reasoning_per_class,
        categorical_range=_parse_range(args.categorical_range), split_turns=not args.keep_conversations,
        embed_images=args.embed_images, curation=args.curation, verify_images=not args.no_verify_images,
        generation=generation, seed=args.seed, source_name=args.source_name,
        max_failure_rate=args.max_failure_rate, max_pixels=args.max_pixels,
        exclude_cross_split_duplicates=args.exclude_cross_split_duplicates,
    )


def run(args) -> int:
    import sys

    from tabulate import tabulate

    config = config_from_args(args)
    if not args.dry_run and not args.out:
        raise UsageError("--out is required (unless --dry-run)")
    if args.dry_run:
        from builder.dataset.dry_run import dry_run, print_estimate

        print_estimate(dry_run(config, cache_dir=args.cache_dir, token_estimate=args.token_estimate))
        return 0
    report = build_dataset(config, args.out, cache_dir=args.cache_dir, num_proc=args.num_proc,
                           progress=not args.quiet, plots=not args.no_plots)
    rows = [[split, s["entries"], s["images_in_dataset"], s["images_quarantined"], s["images_curated"],
             s["not_selected"], *(s["samples_per_kind"].get(kind, 0) for kind in KINDS), s["quarantined_entries"]]
            for split, s in report["splits"].items()]
    print(tabulate(rows, headers=["split", "entries", "images", "img quarantined", "curated", "not selected",
                                  "categorical", "conversation", "reasoning", "quarantine lines"]))
    usage = report["generation"]
    written = report["written_to"]
    print(f"\nLLM requests {usage['requests']} (cached {usage['cached']}, failed {usage['failed']}), "
          f"tokens {usage['prompt_tokens']}+{usage['completion_tokens']}, est. cost ${usage['cost_usd']:.4f}; "
          f"{report['elapsed_s']:.1f} s -> {written}")
    duplicates = report["cross_split_duplicates"]
    if duplicates.get("images"):
        print(f"warning: {duplicates['images']} images are byte-identical to an image of an earlier split "
              f"({', '.join(f'{k} {v}' for k, v in duplicates['per_split'].items())}); see cross_split_duplicates "
              "in report.json, or rebuild with --exclude-cross-split-duplicates", file=sys.stderr)
    if report.get("curation", {}).get("ids_not_in_tree"):
        print(f"warning: {report['curation']['ids_not_in_tree']} ids of {args.curation} name no image of the tree "
              "(see curation in report.json)", file=sys.stderr)
    if report["status"] != "ok":
        kept = f"; the previous good build in {args.out} is kept" if written != str(Path(args.out)) else ""
        print(f"emovit build: error: {report['problem']}; failed build and its report in {written}{kept}",
              file=sys.stderr)
        return 1
    return 0
