"""``emovit export``: a built dataset as a Hub-ready folder or as LLaVA training JSON.

Hub layout (what ``push_to_hub`` writes and ``load_dataset(folder, config)`` reads)::

    README.md                                   card: YAML metadata + text from datasets_card.md
    data/<config>/<split>-00000-of-00001.parquet  images embedded as bytes

A build of config ``all`` is exported as ``all`` plus one config per kind it holds. LLaVA layout::

    <split>.json          [{"id", "image": "<split>/<file>", "conversations": [...]}, ...]
    images/<split>/<file>
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from schemas.errors import UsageError
from schemas.protocol import KINDS

#: The card template at the project root (``--card-template`` overrides it).
CARD_TEMPLATE = Path(__file__).resolve().parents[1] / "datasets_card.md"


def load_build(build_dir: str | Path):
    """The ``DatasetDict`` and ``report.json`` of a build directory (UsageError when it is not one)."""
    import datasets

    build_dir = Path(build_dir)
    if not (build_dir / "report.json").is_file() or not (build_dir / "dataset_dict.json").is_file():
        raise UsageError(f"{build_dir}: not a build directory (run 'emovit build' first)")
    return datasets.load_from_disk(str(build_dir)), json.loads((build_dir / "report.json").read_text())


def export_configs(built, build_config: str) -> dict[str, object]:
    """Config name -> DatasetDict to export: the build's own config, plus one per kind for ``all``."""
    import datasets

    configs = {build_config: built}
    if build_config == "all":
        for kind in KINDS:
            subset = datasets.DatasetDict({split: ds.filter(lambda k: k == kind, input_columns="kind")
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
    """Write the Hub folder for a build; returns the card path."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard, DatasetCardData

    built, report = load_build(build_dir)
    template = Path(template or CARD_TEMPLATE)
    if not template.is_file():
        raise UsageError(f"{template}: dataset card template not found (pass --card-template)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    configs = export_configs(built, report["config"]["config"])
    yaml_configs, infos, total = [], {}, 0
    for name, dataset_dict in configs.items():
        data_files, splits = [], datasets.SplitDict()
        for split, dataset in dataset_dict.items():
            relative = f"data/{name}/{split}-00000-of-00001.parquet"
            size = _write_parquet(dataset, out / relative)
            data_files.append({"split": split, "path": f"data/{name}/{split}-*"})
            splits.add(datasets.SplitInfo(name=split, num_bytes=size, num_examples=len(dataset)))
            total += len(dataset) if name == report["config"]["config"] else 0
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
    card = DatasetCard.from_template(
        card_data, template_path=str(template), pretty_name=pretty_name, report=report,
        configs={name: {split: len(ds) for split, ds in dd.items()} for name, dd in configs.items()},
        prompt_versions=_prompt_versions(built),
    )
    path = out / "README.md"
    card.save(str(path))
    return path


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
    """Write LLaVA-style JSON lists and an image folder; returns samples per split."""
    import datasets

    built, _ = load_build(build_dir)
    out = Path(out)
    counts = {}
    for split, dataset in built.items():
        images = dataset.cast_column("image", datasets.Image(decode=False))
        folder = out / "images" / split
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, str] = {}
        samples = []
        for row in images:
            image_id, image = row["image_id"], row["image"]
            if image_id not in written:
                suffix = Path(image.get("path") or "x.jpg").suffix or ".jpg"
                target = folder / f"{image_id}{suffix}"
                if image.get("bytes") is not None:
                    target.write_bytes(image["bytes"])
                else:
                    shutil.copyfile(image["path"], target)
                written[image_id] = f"{split}/{target.name}"
            samples.append({"id": row["id"], "image": written[image_id], "conversations": row["conversations"]})
        (out / f"{split}.json").write_text(json.dumps(samples, ensure_ascii=False, indent=1), encoding="utf-8")
        counts[split] = len(samples)
    return counts


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help="build directory written by 'emovit build'")
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--format", default="hub", choices=("hub", "llava"))
    parser.add_argument("--card-template", help=f"Jinja dataset card template (default {CARD_TEMPLATE.name})")
    parser.add_argument("--pretty-name", default="EmoVIT emotion visual instructions")


def run(args) -> int:
    if args.format == "llava":
        counts = export_llava(args.dataset, args.out)
        print(f"LLaVA JSON: {', '.join(f'{s}={n}' for s, n in counts.items())} -> {args.out}")
    else:
        card = export_hub(args.dataset, args.out, template=args.card_template, pretty_name=args.pretty_name)
        print(f"Hub folder with card {card}")
    return 0
