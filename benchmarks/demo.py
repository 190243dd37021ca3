"""``emovit demo``: the whole pipeline, offline, on a synthetic EmoSet sample.

synth a tree -> validate it -> build the instruction dataset (template generator) -> export it for the Hub
and as LLaVA JSON -> write a tiny random InstructBLIP -> train EmoVIT's Q-Former on the categorical samples
-> score the base model and the trained EmoVIT on the test split. Every stage writes into its own folder of
``--out``; ``demo_summary.json`` gathers the headline numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.runinfo import write_json


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo run (small enough for two CPU cores in a few minutes)."""

    per_class: int = 64
    seed: int = 0
    epochs: float = 8.0
    lr: float = 5e-3
    batch_size: int = 32
    train: bool = True


def _stage(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.perf_counter()


def score_model(path: str | Path, dataset_dir: str | Path, split: str = "test") -> dict:
    """Accuracy of the model (checkpoint or EmoVIT adapter) at ``path`` on the categorical samples of ``split``."""
    import datasets

    from emovit_model.scoring import EmotionClassifier, accuracy

    data = datasets.load_from_disk(str(dataset_dir))[split]
    data = data.filter(lambda kind: kind == "categorical", input_columns="kind")
    names = data.features["emotion"].names
    gold = [names[label] for label in data["emotion"]]
    classifier = EmotionClassifier.from_pretrained(str(path), device="cpu", dtype="float32", batch_size=16)
    predicted = classifier.predict(data["image"])
    return {"samples": len(gold), "accuracy": accuracy(predicted, gold)}


def run_demo(out: str | Path, config: DemoConfig = DemoConfig()) -> dict:
    """Run every stage into ``out``; returns the summary (also written as ``demo_summary.json``)."""
    from builder.build import BuildConfig, build_dataset
    from builder.export import export_hub, export_llava
    from schemas.runinfo import summary_table
    from builder.synth import SynthConfig, synthesise
    from builder.validate import ValidateConfig, validate_tree

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "demo_config.json", config)
    summary: dict = {"config": asdict(config)}

    start = _stage("synth: a synthetic EmoSet tree")
    tree = out / "emoset"
    counts = synthesise(tree, SynthConfig(per_class=config.per_class, seed=config.seed), progress=False)
    print(f"{counts} -> {tree} ({time.perf_counter() - start:.1f} s)")

    _stage("validate: read and check the tree")
    report = validate_tree(ValidateConfig(emoset_root=str(tree)), out / "validate")
    print(summary_table(report.tallies, report.emotions))
    summary["validate"] = report.as_dict()["totals"]

    start = _stage("build: instruction dataset (config all, template generator)")
    build_dir = out / "build"
    built = build_dataset(BuildConfig(emoset_root=str(tree), config="all", seed=config.seed), build_dir,
                          cache_dir=out / "cache", progress=False)
    summary["build"] = {split: {"samples": s["samples"], "per_kind": s["samples_per_kind"],
                                "images": s["images_in_dataset"], "quarantined": s["images_quarantined"]}
                        for split, s in built["splits"].items()}
    print(json.dumps(summary["build"], indent=1))
    print(f"report: {build_dir / 'build_report.md'} ({time.perf_counter() - start:.1f} s)")

    _stage("export: Hub folder (parquet + card) and LLaVA JSON")
    card = export_hub(build_dir, out / "hub")
    llava = export_llava(build_dir, out / "llava")
    print(f"card {card}; LLaVA samples {llava}")

    if config.train:
        from emovit_model.train import TrainConfig, train
        from emovit_model.zoo import build_tiny

        _stage("zoo: a tiny random InstructBLIP")
        base = build_tiny("instructblip", out / "models" / "tiny-instructblip", seed=config.seed)
        start = _stage("train: EmoVIT (Q-Former, query tokens, projection) on categorical samples")
        result = train(TrainConfig(
            dataset=str(build_dir), base=str(base), out=str(out / "emovit"), epochs=config.epochs, lr=config.lr,
            batch_size=config.batch_size, warmup_steps=0.1, kinds=("categorical",), seed=config.seed,
            logging_steps=5, progress=False,
        ))
        print(f"trained in {time.perf_counter() - start:.1f} s; metrics {out / 'emovit' / 'metrics.json'}")
        _stage("score: categorical accuracy on the test split (8 classes, chance 12.5%)")
        scores = {"tiny InstructBLIP (base)": score_model(base, build_dir),
                  "EmoVIT (tiny, trained)": score_model(result.adapter, build_dir)}
        for name, score in scores.items():
            print(f"{name:<28} accuracy {score['accuracy']:.3f} on {score['samples']} images")
        summary["scores"] = scores
    write_json(out / "demo_summary.json", summary)
    print(f"\nsummary: {out / 'demo_summary.json'}")
    return summary


def add_arguments(parser) -> None:
    defaults = DemoConfig()
    parser.add_argument("--out", required=True, help="folder for every stage's outputs")
    parser.add_argument("--per-class", type=int, default=defaults.per_class, help="images per emotion and split")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--no-train", action="store_true", help="stop after the export")


def run(args) -> int:
    run_demo(args.out, DemoConfig(per_class=args.per_class, seed=args.seed, epochs=args.epochs,
                                  train=not args.no_train))
    return 0
