"""``emovit bench``: ``run`` (models x tasks into run directories), ``leaderboard`` (rebuild from run
directories alone), ``import`` (other harnesses' outputs as run directories), ``publish`` (the leaderboard as
a Hub results dataset), ``leakage`` (near-duplicates of training images in a held-out set), ``plan``
(parameters and GPU memory of every model, from configs alone) and ``list`` (packaged tasks, configs and
adapters). Imports nothing heavy until a subcommand runs, so ``emovit bench --help`` stays fast."""

from __future__ import annotations

import argparse
import math

from schemas.errors import UsageError

EPILOG = """examples:
  emovit bench run --config main size=tiny out=runs/tiny-main        # offline, tiny models, synthetic data
  emovit bench run --config main data.build=BUILD out=runs/main      # real checkpoints (GPU)
  emovit bench run --config main models.emovit.path=RUN/adapter data.build=BUILD out=runs/main
  accelerate launch --num-processes 4 -m benchmarks run --config main data.build=BUILD out=runs/main
  emovit bench leaderboard --runs runs/main/runs other-tool/preds --out board
  emovit bench leakage --build BUILD --task emotion6 data.roots.emotion6=Emotion6 out=runs/heldout
  emovit bench import --from lmms-eval lmms-logs/ --out imported --task emoset8
  emovit bench import --from vlmevalkit outputs/MyVLM/MyVLM_EmoSet8.xlsx --out imported --task emoset8
  emovit bench publish --board board --repo my-org/emovit-results --dry-run hub-results
  emovit bench list
  emovit bench plan --config main --gpu-memory 80               # parameters and GPU memory, configs only
  emovit bench run --config api.yaml --dry-run                  # what the API models would cost"""


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    actions = parser.add_subparsers(dest="action", required=True,
                                    metavar="{run,leaderboard,import,publish,leakage,plan,list}")
    run = actions.add_parser("run", help="score models on tasks (training first where a model entry asks)",
                             description="Score every model of a run config on every task; cached and resumable "
                                         "per sample. Overrides are key=value (dotted keys, YAML values; models "
                                         "by name: models.emovit.path=DIR; size=tiny picks the tiny profile).")
    run.add_argument("--config", required=True, help="a packaged config name (main, ablation, scaling, "
                                                      "sensitivity, zeroshot, heldout, demo) or a YAML path")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    # API models (adapter: openai): prices for config.json's cost, and a dry run that prices before sending
    run.add_argument("--price-per-million-input", type=float, default=None, metavar="USD",
                     help="API models: USD per million prompt tokens (default: the model's list price)")
    run.add_argument("--price-per-million-output", type=float, default=None, metavar="USD",
                     help="API models: USD per million completion tokens (default: the model's list price)")
    run.add_argument("--dry-run", action="store_true",
                     help="price the API models' requests (cache hits are free) and stop; sends and scores nothing")
    board = actions.add_parser("leaderboard", help="rebuild the leaderboard from run directories alone",
                               description="Recompute every figure from predictions.jsonl files (never the models, "
                                           "never a stored metrics.json); writes leaderboard.md/.csv/.json and plots.")
    board.add_argument("--runs", nargs="+", required=True, metavar="DIR",
                       help="run directories, folders holding them, or predictions.jsonl files")
    board.add_argument("--out", required=True, help="folder for leaderboard.md, .csv, .json and plots/")
    board.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    board.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    _add_import(actions)
    _add_publish(actions)
    _add_leakage(actions)
    actions.add_parser("list", help="packaged tasks, run configs and model adapters")
    plan = actions.add_parser("plan", help="GPU memory of every model of a config, from configs alone (no weights)",
                              description="Read only each model's config (no weights), and print its parameter count, "
                                          "weight memory in the run's dtype, KV-cache memory of the prompt at the "
                                          "configured batch size, and whether it fits a GPU memory budget.")
    plan.add_argument("--config", required=True, help="a packaged config name or a YAML path")
    plan.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (e.g. batch_size=16)")
    plan.add_argument("--gpu-memory", type=float, default=None, metavar="GiB",
                      help="budget to check against (default: the memory of the first CUDA device, if any)")
    plan.add_argument("--image-size", type=int, default=512, metavar="PX",
                      help="side of the square image for models whose image tokens follow its pixels (Qwen2-VL; "
                           "default 512)")


def _add_leakage(actions) -> None:
    from benchmarks.leakage import add_arguments

    add_arguments(actions.add_parser(
        "leakage", help="count held-out images that are near-duplicates of a build's training images",
        description="Perceptual-hash (phash) near-duplicates between a build's train split and a held-out task's "
                    "images; writes OUT/leakage/<task>.json and records the count in the task's run config.json."))


def _add_import(actions) -> None:
    imported = actions.add_parser(
        "import", help="other harnesses' outputs (lmms-eval, VLMEvalKit) as run directories",
        description="Convert lmms-eval sample logs or VLMEvalKit prediction files into run directories "
                    "(OUT/<model>/<task>/predictions.jsonl + config.json); 'bench leaderboard' then re-scores "
                    "their answer text with our parser, never the tool's own scores.")
    imported.add_argument("--from", dest="tool", required=True, choices=("lmms-eval", "vlmevalkit"))
    imported.add_argument("paths", nargs="+", metavar="PATH", help="output files or folders of that tool")
    imported.add_argument("--out", required=True, help="folder for the run directories")
    imported.add_argument("--task", help="file the runs under this task of ours (its labels); default: the "
                                         "tool's task or dataset name")
    imported.add_argument("--model", help="the runs' model name on the leaderboard (default: from the tool's "
                                          "files or folder names)")


def _add_publish(actions) -> None:
    publish = actions.add_parser(
        "publish", help="the leaderboard as a Hub results dataset (+ model-index in model cards)",
        description="Write results/<org>/<model>/results_<timestamp>.json, details/<model>/<task>.parquet and a "
                    "dataset card (and model cards with model-index results for models trained here); with "
                    "--dry-run into a folder, otherwise pushed with huggingface_hub (token from HF_TOKEN or "
                    "the login cache, never printed).")
    publish.add_argument("--board", required=True, help="a folder written by 'bench leaderboard'")
    publish.add_argument("--repo", required=True, metavar="ORG/NAME", help="the results dataset repo")
    publish.add_argument("--dry-run", metavar="OUT", help="write the folder here and push nothing")
    publish.add_argument("--model-repo", action="append", default=[], metavar="MODEL=ORG/NAME",
                         help="the Hub repo of a model trained here (its card gets model-index results); "
                              "default ORG/<model>")
    publish.add_argument("--private", action="store_true", help="create the dataset repo private")


def _check_prices(price_input: float | None, price_output: float | None) -> None:
    """The API price flags, checked by the rule ``emovit build`` applies to the same flags (its generation
    config's: finite numbers >= 0)."""
    from builder.generation.config import GenerationConfig

    for name, value in (("price_per_million_input", price_input), ("price_per_million_output", price_output)):
        try:
            GenerationConfig(**{name: value})
        except ValueError as exc:
            raise UsageError(f"--{name.replace('_', '-')}: {exc}") from None


def _run_import(args) -> int:
    from benchmarks.importers import import_runs

    runs = import_runs(args.tool, args.paths, args.out, task=args.task, model=args.model)
    print(f"{len(runs)} run(s) -> {args.out}; next: emovit bench leaderboard --runs {args.out} ... --out BOARD")
    return 0


def _run_publish(args) -> int:
    from benchmarks.publish import publish

    return publish(args.board, args.repo, dry_run=args.dry_run, model_repos=args.model_repo, private=args.private)


def _list() -> int:
    from benchmarks.adapters import ADAPTERS
    from benchmarks.config import packaged_configs, read_config_document
    from benchmarks.task import load_task, packaged_tasks

    print("tasks:")
    for name in sorted(packaged_tasks()):
        task = load_task(name)
        print(f"  {name:<12} {task.description} [hash {task.hash[:12]}]")
    print("configs:")
    for name in sorted(packaged_configs()):
        document, _ = read_config_document(name)
        print(f"  {name:<12} {str(document.get('description', '')).strip().splitlines()[0] if document.get('description') else ''}")
    print("adapters:")
    for name in ADAPTERS:
        adapter = ADAPTERS.load(name)
        tiny = f"; tiny: zoo:{adapter.zoo_kind}" if adapter.zoo_kind else ""
        print(f"  {name:<15} {adapter.description} (default {adapter.checkpoint}{tiny})")
    return 0


def run(args) -> int:
    if args.action == "list":
        return _list()
    if args.action == "leakage":
        from benchmarks.leakage import run as run_leakage

        return run_leakage(args)
    if args.action == "import":
        return _run_import(args)
    if args.action == "publish":
        return _run_publish(args)
    if args.action == "plan":
        from benchmarks.config import load_config
        from benchmarks.plan import plan_config, print_plan

        if args.gpu_memory is not None and not (math.isfinite(args.gpu_memory) and args.gpu_memory > 0):
            raise UsageError(f"--gpu-memory {args.gpu_memory}: a GPU memory budget is a finite number of GiB > 0")
        config = load_config(args.config, list(args.overrides))
        print_plan(plan_config(config, image_size=args.image_size), args.gpu_memory)
        return 0
    if args.action == "leaderboard":
        from benchmarks.leaderboard import check_seed, write_leaderboard

        check_seed(args.seed)
        rows = write_leaderboard(args.runs, args.out, seed=args.seed, plots=not args.no_plots)
        print(f"{len(rows)} rows -> {args.out}/leaderboard.md, leaderboard.csv, leaderboard.json, index.html")
        return 0
    from benchmarks.config import load_config
    from benchmarks.runner import run_bench

    _check_prices(args.price_per_million_input, args.price_per_million_output)
    overrides = list(args.overrides)
    if args.quiet:
        overrides.append("progress=false")
    config = load_config(args.config, overrides)
    prices = {"price_per_million_input": args.price_per_million_input,
              "price_per_million_output": args.price_per_million_output}
    for entry in config.models:  # prices only change config.json's cost, never the run key
        if entry["adapter"] == "openai":
            entry["options"] = {**(entry.get("options") or {}), **{k: v for k, v in prices.items() if v is not None}}
    if args.dry_run:
        from benchmarks.dry_run import price_run, print_prices

        print_prices(price_run(config))
        return 0
    result = run_bench(config)
    if result.leaderboard is not None:
        print((result.out / "leaderboard" / "leaderboard.md").read_text(encoding="utf-8"))
    return 0
