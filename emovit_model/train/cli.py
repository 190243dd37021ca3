"""``emovit train`` flags: every :class:`~emovit_model.train.config.TrainConfig` field, defaults shown."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from emovit_model.train.config import ADAPTER_DIR, MERGED_DIR, TrainConfig
from schemas.errors import UsageError
from schemas.protocol import KINDS

_FLAGS: dict[str, tuple[str, dict]] = {
    # field: (flag, argparse options); defaults come from TrainConfig (or --config)
    "dataset": ("--dataset", {"help": "required: built dataset directory (datasets save_to_disk layout)"}),
    "base": ("--base", {"help": "required: base InstructBLIP, Hub id or local directory"}),
    "out": ("--out", {"help": "required: output directory"}),
    "epochs": ("--epochs", {"type": float}),
    "lr": ("--lr", {"type": float, "help": "peak learning rate"}),
    "min_lr": ("--min-lr", {"type": float, "help": "learning rate at the end of the cosine"}),
    "weight_decay": ("--weight-decay", {"type": float}),
    "batch_size": ("--batch-size", {"type": int, "help": "per-device batch size"}),
    "grad_accum": ("--grad-accum", {"type": int, "help": "gradient-accumulation steps"}),
    "warmup_steps": ("--warmup-steps", {"type": float,
                                        "help": "linear warm-up steps, below 1 a fraction of all steps "
                                                "(LAVIS's usual 1000; EmoVIT's own value is unpublished)"}),
    "max_steps": ("--max-steps", {"type": int, "help": "stop after this many optimiser steps (-1: by epochs)"}),
    "max_grad_norm": ("--max-grad-norm", {"type": float, "help": "gradient clipping (0: off, as the original)"}),
    "seed": ("--seed", {"type": int}),
    "precision": ("--precision", {"choices": ("auto", "bf16", "fp16", "fp32"),
                                  "help": "auto: bf16 on a GPU that supports it, fp32 on CPU"}),
    "train_limit": ("--train-limit", {"type": int, "help": "use only the first N training rows"}),
    "eval_limit": ("--eval-limit", {"type": int, "help": "evaluate on at most N validation images"}),
    "eval_batch_size": ("--eval-batch-size", {"type": int, "help": "images per ranking pass"}),
    "save_steps": ("--save-steps", {"type": int, "help": "checkpoint every N steps (default: every epoch)"}),
    "save_total_limit": ("--save-total-limit", {"type": int, "help": "checkpoints kept"}),
    "logging_steps": ("--logging-steps", {"type": int}),
    "num_workers": ("--num-workers", {"type": int, "help": "data-loader worker processes"}),
    "max_pixels": ("--max-pixels", {"type": int, "help": "pixel limit (width x height) of a training image, read "
                                                        "from its header before decoding"}),
    "max_prompt_tokens": ("--max-prompt-tokens", {"type": int, "help": "instruction budget, cut from the left"}),
    "max_answer_tokens": ("--max-answer-tokens", {"type": int, "help": "answer budget"}),
    "lavis_checkpoint": ("--lavis-checkpoint", {"help": "initialise from an original LAVIS/EmoVIT .pth"}),
    "tuning": ("--tuning", {"choices": ("auto", "qformer", "projector", "lora"),
                            "help": "what trains: auto = EmoVIT's Q-Former policy on InstructBLIP, LoRA + projector "
                                    "on LLaVA; projector = LLaVA's projector only"}),
    "lora_r": ("--lora-r", {"type": int, "help": "LoRA rank (LLaVA, tuning lora)"}),
    "lora_alpha": ("--lora-alpha", {"type": int, "help": "LoRA alpha"}),
    "lora_dropout": ("--lora-dropout", {"type": float, "help": "LoRA dropout"}),
    "train_fraction": ("--train-fraction", {"type": float,
                                            "help": "train on this seeded share of the images of each emotion"}),
    "max_length": ("--max-length", {"type": int, "help": "LLaVA: longest sequence in tokens, image tokens included"}),
}
_SWITCHES: dict[str, tuple[str, bool, str]] = {
    # field: (flag, value when given, help)
    "gradient_checkpointing": ("--gradient-checkpointing", True, "recompute activations to save memory"),
    "train_vision_layernorm": ("--freeze-vision-layernorm", False,
                               "keep the vision LayerNorm frozen (the original trains it)"),
    "normalise": ("--normalise", True, "EmoVIT's original text normalisation of instructions"),
    "augment": ("--augment", True, "random resized crop + horizontal flip on training images"),
    "eval_on_start": ("--eval-on-start", True, "evaluate once before training (epoch 0)"),
    "merge": ("--merge", True, "also write base + adapter as a full model into OUT/merged"),
    "progress": ("--quiet", False, "no progress bars"),
}


def add_arguments(parser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = ("Defaults follow EmoVIT's released config. Multi-GPU: torchrun --nproc-per-node N "
                     "$(which emovit) train ... (see the emovit_model.train docstring).")
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for name, (flag, options) in _FLAGS.items():
        options = dict(options)
        shown = defaults.get(name)
        text = options.pop("help", "")
        if shown is not dataclasses.MISSING and shown is not None:
            text = f"{text} (default {shown})".strip()
        parser.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=text, **options)
    parser.add_argument("--kinds", default=argparse.SUPPRESS,
                        help=f"comma-separated instruction kinds to train on (default {','.join(KINDS)})")
    parser.add_argument("--lora-targets", default=argparse.SUPPRESS,
                        help="comma-separated LLM modules that get LoRA (default q_proj,k_proj,v_proj,o_proj)")
    for name, (flag, value, text) in _SWITCHES.items():
        parser.add_argument(flag, dest=name, action="store_const", const=value, default=argparse.SUPPRESS,
                            help=text)
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                        help="continue from the newest checkpoint in OUT/checkpoints (or from CHECKPOINT)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in an OUT that holds an earlier run's checkpoints (they are removed)")
    parser.add_argument("--config", default=None, help="a run_config.json (or plain JSON of options) to start from")
    parser.add_argument("--merge-only", action="store_true",
                        help="skip training: merge OUT/adapter (or, with --lavis-checkpoint, the imported .pth) "
                             "onto its base into OUT/merged")


def config_from_args(args) -> TrainConfig:
    values: dict = {}
    if args.config:
        try:
            document = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise UsageError(f"--config {args.config}: not readable JSON ({str(exc)[:80] or type(exc).__name__})") from None
        document = document.get("config", document) if isinstance(document, dict) else document
        if not isinstance(document, dict):
            raise UsageError(f"--config {args.config}: expected a JSON object of options")
        values.update(document)
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    values.update(given)
    if isinstance(values.get("kinds"), str):
        values["kinds"] = tuple(k.strip() for k in values["kinds"].split(",") if k.strip())
    if isinstance(values.get("lora_targets"), str):
        values["lora_targets"] = tuple(t.strip() for t in values["lora_targets"].split(",") if t.strip())
    for name in ("kinds", "adam_betas", "lora_targets"):
        if name in values:
            if not isinstance(values[name], (list, tuple)):
                raise UsageError(f"{name} must be a list, got {values[name]!r:.60}")
            values[name] = tuple(values[name])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in values.items() if k in known}
    missing = [f"--{k}" for k in ("dataset", "base", "out") if not values.get(k)]
    if missing:
        raise UsageError(f"missing required option(s): {', '.join(missing)}")
    return TrainConfig(**values)


def _merge_only(args) -> int:
    from emovit_model.checkpoint import merge_adapter
    from emovit_model.lavis import convert_lavis_checkpoint

    if not getattr(args, "out", None):
        raise UsageError("--merge-only needs --out (the run directory holding adapter/)")
    out, base = Path(args.out), getattr(args, "base", None)
    lavis = getattr(args, "lavis_checkpoint", None)
    if lavis:
        if not base:
            raise UsageError("--merge-only with --lavis-checkpoint needs --base (the InstructBLIP to load it onto)")
        adapter = convert_lavis_checkpoint(lavis, base, out / ADAPTER_DIR)
        print(f"imported {lavis} -> {adapter}")
    merged = merge_adapter(out / ADAPTER_DIR, out / MERGED_DIR, base=base)
    print(f"merged -> {merged}")
    return 0


#: Added to the interruption message of ``emovit`` (SIGINT, SIGTERM).
INTERRUPTED_NOTE = "checkpoints written so far are complete; continue with --resume"


def _one_line(exc: Exception) -> str:
    """A data-loader error as one line (a worker process re-raises it with the worker's traceback)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else type(exc).__name__
    return last.split("SampleError: ", 1)[-1]


def run(args) -> int:
    if args.merge_only:
        return _merge_only(args)
    from emovit_model.collators.instructblip import SampleError
    from emovit_model.train.recipe import is_main_process, train

    config = config_from_args(args)
    try:
        result = train(config, resume=args.resume, overwrite=args.overwrite)
    except SampleError as exc:
        raise UsageError(f"training data: {_one_line(exc)}") from None
    if is_main_process():
        for row in result.metrics["epochs"]:
            loss = "-" if row.get("train_loss") is None else f"{row['train_loss']:.4f}"
            accuracy = "-" if row.get("eval_accuracy") is None else f"{row['eval_accuracy']:.3f}"
            print(f"epoch {row['epoch']}: step {row['step']} train_loss {loss} eval_accuracy {accuracy}")
        print(f"adapter -> {result.adapter}" + (f"; merged -> {result.merged}" if result.merged else ""))
    return 0
