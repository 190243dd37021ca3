"""``emovit bench``: the leaderboard harness's commands, one line each in :data:`COMMANDS`.

Each entry names the function that declares a subcommand's arguments (``add(parser)``, in the stage that does
the work) and sets the function that runs it (``parser.set_defaults(handler=...)``). ``run`` (score, then rank),
``plan`` and ``list`` live here, on top of the stages; the rest with their stage. Heavy libraries are imported
only when a subcommand runs, so ``emovit bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import math

from schemas.errors import UsageError
from schemas.registry import Entry, Registry

#: Subcommand -> the function declaring its arguments, and its one-line help.
COMMANDS = Registry("bench command", {
    "run": Entry("benchmarks.cli:add_run", "score models on tasks (training first where a model entry asks)"),
    "leaderboard": Entry("benchmarks.board.leaderboard:add_arguments",
                         "rebuild the leaderboard from run directories alone"),
    "import": Entry("benchmarks.interop.importing:add_arguments",
                    "other harnesses' outputs (lmms-eval, VLMEvalKit) as run directories"),
    "export": Entry("benchmarks.interop.exporting:add_arguments",
                    "our benchmark as another harness's task (an lmms-eval task folder, a VLMEvalKit TSV)"),
    "publish": Entry("benchmarks.board.publish:add_arguments",
                     "the leaderboard as a Hub results dataset (+ model-index in model cards)"),
    "leakage": Entry("benchmarks.data.leakage:add_arguments",
                     "count held-out images that are near-duplicates of a build's training images"),
    "plan": Entry("benchmarks.cli:add_plan", "GPU memory of every model of a config, from configs alone (no weights)"),
    "list": Entry("benchmarks.cli:add_list", "packaged tasks, run configs and model adapters"),
})

EPILOG = """examples:
  emovit bench run --config main size=tiny out=runs/tiny-main        # offline, tiny models, synthetic data
  emovit bench run --config main data.build=BUILD out=runs/main      # real checkpoints (GPU)
  emovit bench run --config main models.emovit.path=RUN/adapter data.build=BUILD out=runs/main
  accelerate launch --num-processes 4 -m benchmarks run --config main data.build=BUILD out=runs/main
  emovit bench leaderboard --runs runs/main/runs other-tool/preds --out board
  emovit bench leakage --build BUILD --task emotion6 data.roots.emotion6=Emotion6 out=runs/heldout
  emovit bench import --from lmms-eval lmms-logs/ --out imported --task emoset8
  emovit bench import --from vlmevalkit outputs/MyVLM/MyVLM_EmoSet8.xlsx --out imported --task emoset8
  emovit bench export --to lmms-eval --dataset BUILD --out emoset8-lmms   # our benchmark for lmms-eval
  emovit bench export --to vlmevalkit --dataset BUILD --out emoset8-vlm   # ... and for VLMEvalKit
  emovit bench publish --board board --repo my-org/emovit-results --dry-run hub-results
  emovit bench list
  emovit bench plan --config main --gpu-memory 80               # parameters and GPU memory, configs only
  emovit bench run --config api.yaml --dry-run                  # what the API models would cost"""


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    actions = parser.add_subparsers(dest="action", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, entry in COMMANDS.items():
        entry.load()(actions.add_parser(name, help=entry.summary))


def run(args) -> int:
    return int(args.handler(args) or 0)


# ------------------------------------------------------------------------------------------ run
def add_run(parser) -> None:
    parser.description = ("Score every model of a run config on every task; cached and resumable per sample. "
                          "Overrides are key=value (dotted keys, YAML values; models by name: "
                          "models.emovit.path=DIR; size=tiny picks the tiny profile).")
    parser.add_argument("--config", required=True, help="a packaged config name (main, ablation, scaling, "
                                                         "sensitivity, zeroshot, heldout, demo) or a YAML path")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    # API models (adapter: openai): prices for config.json's cost, and a dry run that prices before sending
    parser.add_argument("--price-per-million-input", type=float, default=None, metavar="USD",
                        help="API models: USD per million prompt tokens (default: the model's list price)")
    parser.add_argument("--price-per-million-output", type=float, default=None, metavar="USD",
                        help="API models: USD per million completion tokens (default: the model's list price)")
    parser.add_argument("--dry-run", action="store_true",
                        help="price the API models' requests (cache hits are free) and stop; sends and scores nothing")
    parser.set_defaults(handler=_run)


def _check_prices(price_input: float | None, price_output: float | None) -> None:
    """The API price flags, checked by the rule ``emovit build`` applies to the same flags (its generation
    config's: finite numbers >= 0)."""
    from builder.generation.config import GenerationConfig

    for name, value in (("price_per_million_input", price_input), ("price_per_million_output", price_output)):
        try:
            GenerationConfig(**{name: value})
        except ValueError as exc:
            raise UsageError(f"--{name.replace('_', '-')}: {exc}") from None


def run_and_rank(config, *, log=print):
    """Score every model of ``config`` (:func:`benchmarks.run.runner.run_bench`), then, unless the config says
    ``leaderboard: false``, rebuild the leaderboard of the run directories into ``OUT/leaderboard`` (main
    process; the others wait for it). Returns the :class:`~benchmarks.run.runner.BenchResult` and the
    leaderboard rows (``None`` where none was written)."""
    from benchmarks.board.leaderboard import write_leaderboard
    from benchmarks.run.runner import run_bench

    result = run_bench(config, log=log)
    rows = None
    if result.is_main and config.leaderboard:
        board = result.out / "leaderboard"
        rows = write_leaderboard(result.runs, board, seed=config.seed, root=result.out / "runs")
        result.log.append(f"leaderboard: {board / 'leaderboard.md'}")
        log(result.log[-1])
    result.wait()
    return result, rows


def _run(args) -> int:
    from benchmarks.spec.config import load_config

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
        from benchmarks.run.dry_run import price_run, print_prices

        print_prices(price_run(config))
        return 0
    result, rows = run_and_rank(config)
    if rows is not None:
        print((result.out / "leaderboard" / "leaderboard.md").read_text(encoding="utf-8"))
    return 0


# ------------------------------------------------------------------------------------------ plan
def add_plan(parser) -> None:
    parser.description = ("Read only each model's config (no weights), and print its parameter count, weight memory "
                          "in the run's dtype, KV-cache memory of the prompt at the configured batch size, and "
                          "whether it fits a GPU memory budget.")
    parser.add_argument("--config", required=True, help="a packaged config name or a YAML path")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (e.g. batch_size=16)")
    parser.add_argument("--gpu-memory", type=float, default=None, metavar="GiB",
                        help="budget to check against (default: the memory of the first CUDA device, if any)")
    parser.add_argument("--image-size", type=int, default=512, metavar="PX",
                        help="side of the square image for models whose image tokens follow its pixels (Qwen2-VL; "
                             "default 512)")
    parser.set_defaults(handler=_plan)


def _plan(args) -> int:
    from benchmarks.run.plan import plan_config, print_plan
    from benchmarks.spec.config import load_config

    if args.gpu_memory is not None and not (math.isfinite(args.gpu_memory) and args.gpu_memory > 0):
        raise UsageError(f"--gpu-memory {args.gpu_memory}: a GPU memory budget is a finite number of GiB > 0")
    config = load_config(args.config, list(args.overrides))
    print_plan(plan_config(config, image_size=args.image_size), args.gpu_memory)
    return 0


# ------------------------------------------------------------------------------------------ list
def add_list(parser) -> None:
    parser.set_defaults(handler=_list)


def _list(args) -> int:
    from benchmarks.adapters import ADAPTERS
    from benchmarks.spec.config import packaged_configs, read_config_document
    from benchmarks.spec.task import load_task, packaged_tasks

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


__all__ = ["COMMANDS", "add_arguments", "run", "run_and_rank"]
