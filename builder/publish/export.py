"""``emovit export``: a built dataset as a Hub-ready folder or as LLaVA training JSON.

Hub layout (what ``push_to_hub`` writes and ``load_dataset(folder, config)`` reads)::

    README.md                                   card: YAML metadata + text from datasets_card.md
    data/<config>/<split>-00000-of-00001.parquet  images embedded as bytes

A build of config ``all`` is exported as ``all`` plus one config per kind it holds. LLaVA layout::

    <split>.json          [{"id", "image": "<split>/<file>", "conversations": [...]}, ...]
    images/<split>/<file>

Both also hold ``export.json`` (format, build fingerprint, the files written). The exports of our benchmark for
other evaluation harnesses (lmms-eval, VLMEvalKit) are the benchmark harness's: ``emovit bench export``
(``emovit export --format lmms-eval|vlmevalkit`` still reaches it, see :data:`builder.cli.MOVED`).

An export always fills a fresh folder: ``--out`` may be missing, empty or an earlier export (replaced as a whole once the new one is
complete, so no stale file survives); anything else is refused. The card template is the project's
top-level ``datasets_card.md``, shipped inside the package as ``builder/publish/templates/datasets_card.md``.

Before anything is written, every image the build stores by path is checked again with the reader's
containment rule (:func:`builder.dataset.stored.check_source_images`): a source image replaced by a link
leaving the tree, or deleted, stops the export with one line; its bytes are never published. An empty split
is left out of the Hub card's configs (``load_dataset`` refuses a split with no data files); LLaVA image
files keep their real format's extension.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from builder.dataset.outputs import safe_child, staged_output, swap_into_place
from schemas.errors import UsageError
from schemas.protocol import KINDS
from schemas.runinfo import write_json

#: The marker file every export writes (and the proof that a folder is an export that may be replaced).
EXPORT_MARKER = "export.json"


def card_template() -> str:
    """The dataset card template shipped with the package (the project's ``datasets_card.md``)."""
    return resources.files("builder.publish").joinpath("templates", "datasets_card.md").read_text(encoding="utf-8")


def is_export_dir(path: Path) -> bool:
    return (path / EXPORT_MARKER).is_file()


def public_name(spec: str | None) -> str | None:
    """A spec as published files may show it: local paths reduced to their last component
    (``file:/home/me/captions.jsonl`` -> ``file:captions.jsonl``); Hub ids and names unchanged."""
    if not spec:
        return spec
    prefix, sep, value = spec.rpartition(":") if spec.count(":") else ("", "", spec)
    if value.startswith(("/", ".", "~")) or Path(value).exists():
        value = Path(value).name
    return f"{prefix}{sep}{value}"


def _write_marker(folder: Path, export_format: str, report: dict) -> None:
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    write_json(folder / EXPORT_MARKER, {"format": export_format, "build_fingerprint": report.get("fingerprint"),
                                        "files": files})


def load_build(build_dir: str | Path):
    """The ``DatasetDict`` and ``report.json`` of a build directory (UsageError when it is not one, or when an
    image it stores by path fails the containment rule)."""
    from builder.dataset.stored import check_source_images, is_build_dir, load_built

    build_dir = Path(build_dir)
    if not is_build_dir(build_dir):
        raise UsageError(f"{build_dir}: not a build directory (run 'emovit build' first)")
    try:
        report = json.loads((build_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{build_dir / 'report.json'}: not readable JSON ({str(exc)[:80]})") from None
    if not isinstance(report, dict) or not isinstance(report.get("config"), dict):
        raise UsageError(f"{build_dir / 'report.json'}: not a build report (no 'config' object)")
    built = load_built(build_dir)
    check_source_images(build_dir, built)
    return built, report


def export_configs(built, build_config: str) -> dict[str, object]:
    """Config name -> DatasetDict to export: the build's own config, plus one per kind for ``all``."""
    import datasets

    configs = {build_config: built}
    if build_config == "all":
        for kind in KINDS:
            subset = datasets.DatasetDict({split: ds.filter(lambda k, kind=kind: k == kind, input_columns="kind")
                                           for split, ds in built.items()})
            if any(len(ds) for ds in subset.values()):
                configs[kind] = subset
    return configs


def size_category(rows: int) -> str:
    """The Hub's size category for ``rows`` examples."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def _write_parquet(dataset, path: Path) -> int:
    from datasets.table import embed_table_storage

    path.parent.mkdir(parents=True, exist_ok=True)
    embedded = dataset.with_format("arrow").map(embed_table_storage, batched=True, keep_in_memory=True)
    embedded.with_format(None).to_parquet(str(path))
    return path.stat().st_size


def export_hub(build_dir: str | Path, out: str | Path, *, template: str | Path | None = None,
               pretty_name: str = "EmoVIT emotion visual instructions") -> Path:
    """Write the Hub folder for a build into ``out`` (replacing an earlier export); returns the card path."""
    out = Path(out)
    built, report = load_build(build_dir)
    if template is not None and not Path(template).is_file():
        raise UsageError(f"{template}: dataset card template not found")
    with staged_output(out, is_export_dir, "an emovit export") as staging:
        ready = staging / "export"
        ready.mkdir()
        _write_hub(built, report, ready, Path(template).read_text(encoding="utf-8") if template else card_template(),
                   pretty_name)
        _write_marker(ready, "hub", report)
        swap_into_place(ready, out)
    return out / "README.md"


def _write_hub(built, report: dict, out: Path, template: str, pretty_name: str) -> None:
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard, DatasetCardData

    configs = export_configs(built, report["config"]["config"])
    yaml_configs, infos, total = [], {}, 0
    for name, dataset_dict in configs.items():
        data_files, splits = [], datasets.SplitDict()
        for split, dataset in dataset_dict.items():
            if len(dataset) == 0:  # a split with no data file cannot be loaded: it is left out of the card
                continue
            relative = f"data/{name}/{split}-00000-of-00001.parquet"
            size = _write_parquet(dataset, out / relative)
            data_files.append({"split": split, "path": f"data/{name}/{split}-*"})
            splits.add(datasets.SplitInfo(name=split, num_bytes=size, num_examples=len(dataset)))
            total += len(dataset) if name == report["config"]["config"] else 0
        if not data_files:
            continue
        yaml_configs.append({"config_name": name, "data_files": data_files,
                             **({"default": True} if name == report["config"]["config"] else {})})
        infos[name] = datasets.DatasetInfo(features=next(iter(dataset_dict.values())).features, splits=splits)
    card_data = DatasetCardData(
        pretty_name=pretty_name, license="cc-by-4.0", language=["en"],
        task_categories=["visual-question-answering", "image-text-to-text"],
        tags=["emotion", "affective-computing", "instruction-tuning", "llava", "emoset", "emovit"],
        size_categories=[size_category(total)], configs=yaml_configs,
    )
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    config = report["config"]
    card = DatasetCard.from_template(
        card_data, template_str=template, pretty_name=pretty_name, report=report,
        source_name=config.get("source_name") or Path(config["emoset_root"]).name,
        captioner=public_name(config["captioner"]), curation=public_name(config.get("curation")),
        configs={name: {split: len(ds) for split, ds in dd.items()} for name, dd in configs.items()},
        emotions=list(next(iter(built.values())).features["emotion"].names),
        prompt_versions=_prompt_versions(built),
    )
    card.save(str(out / "README.md"))


def _prompt_versions(built) -> list[dict]:
    from schemas.features import column

    seen = {}
    for dataset in built.values():
        for kind, generator in zip(column(dataset, "kind"), column(dataset, "generator")):
            seen.setdefault((kind, generator["backend"], generator["model"], generator["prompt_version"]),
                            generator["temperature"])
    return [{"kind": k, "backend": b, "model": m, "prompt_version": v, "temperature": t}
            for (k, b, m, v), t in sorted(seen.items())]


def export_llava(build_dir: str | Path, out: str | Path) -> dict[str, int]:
    """Write LLaVA-style JSON lists and an image folder into ``out`` (replacing an earlier export); returns
    samples per split. Image files are named by image id, which must stay inside the folder."""
    out = Path(out)
    built, report = load_build(build_dir)
    with staged_output(out, is_export_dir, "an emovit export") as staging:
        ready = staging / "export"
        ready.mkdir()
        counts = {split: _write_llava_split(dataset, ready, split) for split, dataset in built.items()}
        _write_marker(ready, "llava", report)
        swap_into_place(ready, out)
    return counts


def _write_llava_split(dataset, out: Path, split: str) -> int:
    import datasets

    from builder.sources.imagefiles import image_extension, read_regular

    images = dataset.cast_column("image", datasets.Image(decode=False))
    (out / "images").mkdir(exist_ok=True)
    folder = safe_child(out / "images", split)
    folder.mkdir()
    written: dict[str, str] = {}
    samples = []
    for row in images:
        image_id, image = row["image_id"], row["image"]
        if image_id not in written:
            data = image["bytes"] if image.get("bytes") is not None else read_regular(os.path.realpath(image["path"]))
            target = safe_child(folder, f"{image_id}{image_extension(data)}")
            target.write_bytes(data)
            written[image_id] = f"{split}/{target.name}"
        samples.append({"id": row["id"], "image": written[image_id], "conversations": row["conversations"]})
    safe_child(out, f"{split}.json").write_text(json.dumps(samples, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(samples)


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help="build directory written by 'emovit build'")
    parser.add_argument("--out", required=True,
                        help="folder to write (new, empty, or an earlier export: replaced as a whole)")
    parser.add_argument("--format", default="hub", choices=("hub", "llava"),
                        help="hub (parquet + card) or llava (JSON + images); the benchmark for another harness is "
                             "'emovit bench export --to lmms-eval|vlmevalkit'")
    parser.add_argument("--card-template", help="Jinja dataset card template (default: the packaged datasets_card.md)")
    parser.add_argument("--pretty-name", default="EmoVIT emotion visual instructions")


def run(args) -> int:
    if args.format == "llava":
        counts = export_llava(args.dataset, args.out)
        print(f"LLaVA JSON: {', '.join(f'{s}={n}' for s, n in counts.items())} -> {args.out}")
    else:
        card = export_hub(args.dataset, args.out, template=args.card_template, pretty_name=args.pretty_name)
        print(f"Hub folder with card {card}")
    return 0
