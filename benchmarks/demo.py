"""``emovit demo``: the whole pipeline, offline, on a synthetic EmoSet sample, ending with the leaderboard.

synth a tree -> validate it -> build the instruction dataset (template generator) -> export it for the Hub
and as LLaVA JSON -> write tiny random InstructBLIP, LLaVA, LLaVA-NeXT and CLIP checkpoints -> train EmoVIT's
Q-Former on the categorical samples -> benchmark (packaged config ``demo``): tiny EmoVIT, tiny InstructBLIP,
LLaVA, LLaVA fine-tuned on the same data, a chat-template VLM (LLaVA-NeXT) and CLIP on the test split and on a
tiny held-out task (a synthetic tree in Emotion6's layout, ``emovit synth --layout emotion6``), with bootstrap
CIs, McNemar tests, the models tied with the best, calibration with reliability diagrams, answer health, the
in- vs out-of-domain table and plots.
Every stage writes into its own folder of ``--out``; ``demo_summary.json`` gathers the headline numbers and
where everything is.

Tiny random-init models on synthetic images test the machinery, not the science.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.runinfo import write_json

DISCLAIMER = ("Tiny random-init models on synthetic images: these numbers test the machinery (training, scoring, "
              "statistics), not the science.")


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo run (small enough for two CPU cores in a few minutes)."""

    per_class: int = 64
    seed: int = 0
    epochs: float = 8.0
    lr: float = 5e-3
    batch_size: int = 32
    train: bool = True
    bench: bool = True
    llava_epochs: float = 6.0
    #: Images per emotion of the held-out task (a synthetic Emotion6 tree; 0 leaves it out).
    heldout_per_class: int = 8
    #: CPU threads per operation. Tiny models gain nothing from intra-op threads, and on a shared machine a
    #: second thread that has to wait for a busy core makes every operation wait (measured: 26x slower
    #: training steps on two cores with another job running), so the demo uses one.
    threads: int = 1


def _stage(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.perf_counter()


#: The demo's held-out task: out-of-domain in the leaderboard's in- vs out-of-domain table.
HELDOUT_TASK = "emotion6"


def _bench(out: Path, build_dir: Path, adapter: Path, zoo: dict[str, Path], config: DemoConfig,
           heldout: Path | None = None) -> list[dict]:
    """The harness on the packaged ``demo`` config, pointed at what the earlier stages wrote (and, with
    ``heldout``, also scored on :data:`HELDOUT_TASK` read from that tree)."""
    from benchmarks.cli import run_and_rank
    from benchmarks.spec.config import load_config

    overrides = [f"out={out}", f"data.build={build_dir}", "data.synth=null", f"seed={config.seed}",
                 f"models.emovit.path={adapter}", f"models.instructblip.path={zoo['instructblip']}",
                 f"models.llava.path={zoo['llava']}", f"models.llava-ft.base={zoo['llava']}",
                 f"models.llava-ft.train.epochs={config.llava_epochs}", f"models.llava-ft.train.seed={config.seed}",
                 f"models.vlm.path={zoo['llava-next']}", f"models.clip.path={zoo['clip']}", "progress=false"]
    if heldout is not None:
        overrides += [f"tasks=[emoset8,emoset2,{HELDOUT_TASK}]", f"data.roots.{HELDOUT_TASK}={heldout}"]
    _, rows = run_and_rank(load_config("demo", overrides))  # the runs, then their leaderboard
    return rows


def _print_leaderboard(rows: list[dict]) -> None:
    from tabulate import tabulate

    for task in ("emoset8", "emoset2", HELDOUT_TASK):
        group = [row for row in rows if row["task"] == task]
        if not group:
            continue
        best = group[0]["model"]
        chance = 1 / len(group[0]["labels"])
        table = []
        for row in group:
            low, high = row["accuracy_ci"]
            versus = "(best)" if row["model"] == best else (
                f"p={row['mcnemar'][best]:.2g}{' *' if row['tied_with_best'] is False else ''}")
            ece = "–" if row.get("ece") is None else f"{row['ece']:.3f}"
            table.append([row["rank"], row["model"], f"{row['accuracy']:.3f}", f"[{low:.3f}, {high:.3f}]",
                          f"{row['macro_f1']:.3f}", f"{row['uar']:.3f}", ece, f"{row['parse_failure_rate']:.3f}",
                          versus])
        print(f"\n{task} (n={group[0]['n']} test images, chance {chance:.3f}; * = below {best} by exact McNemar, "
              "Holm-corrected; # = 1 + the models significantly better)")
        print(tabulate(table, headers=["#", "model", "accuracy", "95% CI", "macro-F1", "UAR", "ECE", "parse fail",
                                       f"McNemar vs {best}"], tablefmt="simple", disable_numparse=True))


def run_demo(out: str | Path, config: DemoConfig = DemoConfig()) -> dict:
    """Run every stage into ``out``; returns the summary (also written as ``demo_summary.json``).

    Torch's CPU thread count is set to ``config.threads`` for the training and benchmark stages and restored
    afterwards."""
    if not config.train:
        return _run_demo(out, config)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _run_demo(out, config)
    finally:
        torch.set_num_threads(before)


def _run_demo(out: str | Path, config: DemoConfig) -> dict:
    from builder.dataset.build import BuildConfig, build_dataset
    from builder.publish.export import export_hub, export_llava
    from builder.sources.synth import SynthConfig, synthesise
    from builder.sources.validate import ValidateConfig, validate_tree
    from schemas.runinfo import summary_table

    began = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "demo_config.json", config)
    summary: dict = {"config": asdict(config)}
    where: dict[str, str] = {}

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
    where["build"] = str(build_dir)

    _stage("export: Hub folder (parquet + card) and LLaVA JSON")
    card = export_hub(build_dir, out / "hub")
    llava = export_llava(build_dir, out / "llava")
    print(f"Hub folder: {out / 'hub'} (card {card})")
    print(f"LLaVA export: {out / 'llava'} ({llava})")
    where.update(hub=str(out / "hub"), llava_export=str(out / "llava"))

    if config.train:
        from emovit_model.train import TrainConfig, train
        from emovit_model.zoo import build_tiny

        _stage("zoo: tiny random checkpoints (InstructBLIP, LLaVA, LLaVA-NeXT, CLIP)")
        zoo = {}
        for kind in ("instructblip", "llava", "llava-next", "clip") if config.bench else ("instructblip",):
            zoo[kind] = build_tiny(kind, out / "models" / f"tiny-{kind}", seed=config.seed)
            files = sorted(p.name for p in zoo[kind].iterdir() if p.is_file())
            print(f"{kind}: {zoo[kind]} (random weights, seed {config.seed}; {', '.join(files)})")
        where["zoo"] = str(out / "models")

        start = _stage("train: EmoVIT (Q-Former, query tokens, projection) on categorical samples")
        result = train(TrainConfig(
            dataset=str(build_dir), base=str(zoo["instructblip"]), out=str(out / "emovit"), epochs=config.epochs,
            lr=config.lr, batch_size=config.batch_size, warmup_steps=0.1, kinds=("categorical",), seed=config.seed,
            logging_steps=5, eval_limit=128, eval_batch_size=32, progress=False,
        ))
        print(f"trained in {time.perf_counter() - start:.1f} s; metrics {out / 'emovit' / 'metrics.json'}")
        print(f"EmoVIT adapter: {result.adapter}")
        where.update(emovit_adapter=str(result.adapter), emovit_metrics=str(out / "emovit" / "metrics.json"))

        if config.bench:
            start = _stage("bench: EmoVIT vs InstructBLIP, LLaVA, LLaVA-ft (trained now) and CLIP on the test split"
                           + (f" and a held-out {HELDOUT_TASK} tree" if config.heldout_per_class else ""))
            bench_out = out / "bench"
            heldout = None
            if config.heldout_per_class:
                from builder.sources.layouts import LayoutConfig, write_layout

                heldout = out / HELDOUT_TASK
                write_layout(heldout, LayoutConfig(layout=HELDOUT_TASK, per_class=config.heldout_per_class,
                                                   seed=config.seed))
                where["heldout"] = str(heldout)
            rows = _bench(bench_out, build_dir, result.adapter, zoo, config, heldout)
            _print_leaderboard(rows)
            print(f"\n{DISCLAIMER}")
            print(f"benchmarked in {time.perf_counter() - start:.1f} s")
            summary["leaderboard"] = [{k: row[k] for k in ("task", "model", "n", "accuracy", "accuracy_ci", "macro_f1",
                                                            "uar", "parse_failure_rate", "mcnemar", "rank",
                                                            "tied_with_best", "ece")} for row in rows]
            where.update(llava_ft_adapter=str(bench_out / "_train" / "llava-ft" / "adapter"),
                         runs=str(bench_out / "runs"), leaderboard=str(bench_out / "leaderboard" / "leaderboard.md"),
                         leaderboard_csv=str(bench_out / "leaderboard" / "leaderboard.csv"),
                         leaderboard_json=str(bench_out / "leaderboard" / "leaderboard.json"),
                         leaderboard_tasks=str(bench_out / "leaderboard" / "leaderboard_tasks.json"),
                         leaderboard_page=str(bench_out / "leaderboard" / "index.html"),
                         plots=str(bench_out / "leaderboard" / "plots"))
    summary["where"] = where
    summary["elapsed_s"] = round(time.perf_counter() - began, 1)
    write_json(out / "demo_summary.json", summary)
    _stage("where everything is")
    width = max(len(k) for k in where)
    for name, path in where.items():
        print(f"{name:<{width}}  {path}")
    print(f"{'summary':<{width}}  {out / 'demo_summary.json'}")
    print(f"\ndone in {summary['elapsed_s']:.0f} s")
    return summary


def add_arguments(parser) -> None:
    defaults = DemoConfig()
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.epilog = DISCLAIMER
    parser.add_argument("--out", required=True, help="folder for every stage's outputs")
    parser.add_argument("--per-class", type=int, default=defaults.per_class, help="images per emotion and split")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of every stage")
    parser.add_argument("--epochs", type=float, default=defaults.epochs, help="EmoVIT training epochs")
    parser.add_argument("--llava-epochs", type=float, default=defaults.llava_epochs,
                        help="LLaVA-ft training epochs (in the bench stage)")
    parser.add_argument("--heldout-per-class", type=int, default=defaults.heldout_per_class,
                        help=f"images per emotion of the held-out task ({HELDOUT_TASK} layout, synthetic; 0: none)")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help="torch CPU threads per operation (tiny models run fastest on one)")
    parser.add_argument("--no-train", action="store_true", help="stop after the export (no torch needed)")
    parser.add_argument("--no-bench", action="store_true", help="stop after training EmoVIT (no leaderboard)")


def run(args) -> int:
    run_demo(args.out, DemoConfig(per_class=args.per_class, seed=args.seed, epochs=args.epochs,
                                  llava_epochs=args.llava_epochs, threads=args.threads, train=not args.no_train,
                                  heldout_per_class=args.heldout_per_class,
                                  bench=not args.no_bench))
    return 0
