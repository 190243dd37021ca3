"""``emovit train``: fine-tune EmoVIT (InstructBLIP's Q-Former) on a built instruction dataset.

One readable recipe on ``transformers.Trainer``::

    emovit train --dataset build/ --base Salesforce/instructblip-vicuna-7b --out runs/emovit

Defaults follow EmoVIT's released config: AdamW (0.9, 0.999), lr 1e-5, weight decay 0.005, linear warm-up
then cosine decay to 1e-8, 4 epochs, batch 1, seed 42, bf16 mixed precision on GPUs that support it
(fp32 on CPU). Vision encoder and LLM are frozen; the Q-Former, its query tokens, the projection and the
vision LayerNorm train (see :mod:`emovit_model.model`).

Outputs in ``--out``::

    run_config.json          every option, its fingerprint, library versions, parameter counts
    metrics.json             per epoch: mean training loss, validation accuracy (8-way, likelihood ranking)
    checkpoints/checkpoint-N Trainer checkpoints: adapter (safetensors) + optimizer/scheduler/RNG state
    adapter/                 the trained weights only (safetensors + JSON naming the base) + processor
    merged/                  with --merge: a full save_pretrained model plain transformers loads

``--resume`` continues from the newest checkpoint in ``--out`` (or ``--resume PATH``), restoring weights,
optimizer, scheduler, RNG state and the step counter. ``--config run_config.json`` re-reads a saved run's
options (flags given on the command line win).

Validation accuracy: each distinct image of the validation split is classified by ranking the eight answers
``Predict emotion: <label>`` by likelihood (:class:`emovit_model.scoring.EmotionClassifier`), which always
yields a label, so the per-epoch figure is stable even when free generation would not parse.

Multi-GPU needs no code change; the Trainer picks the launcher's environment up::

    torchrun --nproc-per-node 4 $(which emovit) train --dataset build/ --base ... --out runs/emovit
    accelerate launch --num-processes 4 -m emovit_model.train --dataset build/ --base ... --out runs/emovit

``--batch-size`` is per device; the effective batch is batch-size x grad-accum x number of processes.
Validation is split between processes and the counts summed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import UsageError
from builder.protocol import KINDS

CHECKPOINT_DIR = "checkpoints"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
RUN_CONFIG = "run_config.json"
METRICS = "metrics.json"


@dataclass(frozen=True)
class TrainConfig:
    """Options of one training run (saved as ``run_config.json``)."""

    dataset: str
    base: str
    out: str
    epochs: float = 4.0
    lr: float = 1e-5
    min_lr: float = 1e-8
    weight_decay: float = 0.005
    adam_betas: tuple[float, float] = (0.9, 0.999)
    batch_size: int = 1
    grad_accum: int = 1
    warmup_steps: float = 1000
    max_steps: int = -1
    max_grad_norm: float = 0.0
    seed: int = 42
    precision: str = "auto"
    gradient_checkpointing: bool = False
    train_vision_layernorm: bool = True
    max_prompt_tokens: int = 128
    max_answer_tokens: int = 256
    normalise: bool = False
    augment: bool = False
    kinds: tuple[str, ...] = KINDS
    train_limit: int | None = None
    eval_limit: int | None = None
    eval_batch_size: int = 8
    eval_on_start: bool = False
    save_steps: int | None = None
    save_total_limit: int | None = 2
    logging_steps: int = 10
    num_workers: int = 0
    lavis_checkpoint: str | None = None
    merge: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("epochs must be > 0 (or give max_steps)")
        if self.lr <= 0:
            problems.append("lr must be > 0")
        if self.batch_size < 1 or self.grad_accum < 1 or self.eval_batch_size < 1:
            problems.append("batch_size, grad_accum and eval_batch_size must be >= 1")
        if self.warmup_steps < 0:
            problems.append("warmup_steps must be >= 0 (a value below 1 is a fraction of all steps)")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            problems.append(f"precision must be auto, bf16, fp16 or fp32, got {self.precision!r}")
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            problems.append(f"kinds must be a non-empty subset of {', '.join(KINDS)}, got {', '.join(self.kinds)}")
        if self.max_prompt_tokens < 2 or self.max_answer_tokens < 1:
            problems.append("max_prompt_tokens must be >= 2 and max_answer_tokens >= 1")
        for name in ("train_limit", "eval_limit", "save_steps", "save_total_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be >= 1 when given")
        if problems:
            raise UsageError("; ".join(problems))

    @property
    def out_dir(self) -> Path:
        return Path(self.out)


@dataclass
class TrainResult:
    """Where a run wrote its outputs, and its metrics document."""

    out: Path
    adapter: Path
    metrics: dict
    merged: Path | None = None
    global_step: int = 0
    log_history: list = field(default_factory=list)
    model: object = None


# ------------------------------------------------------------------------------------------------ data
def load_splits(config: TrainConfig):
    """``(train, val)`` from the built dataset (``val`` is ``None`` when the split is absent)."""
    import datasets

    path = Path(config.dataset)
    if not path.is_dir():
        raise UsageError(f"{path}: dataset directory not found (build one with 'emovit build')")
    try:
        built = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"{path}: not a datasets save_to_disk directory: {exc}") from None
    if not isinstance(built, datasets.DatasetDict) or "train" not in built:
        raise UsageError(f"{path}: expected a DatasetDict with a 'train' split")
    train = built["train"]
    missing = {"image", "conversations", "emotion", "kind"} - set(train.column_names)
    if missing:
        raise UsageError(f"{path}: train split lacks column(s) {', '.join(sorted(missing))}")
    wanted = set(config.kinds)
    if set(train.unique("kind")) - wanted:
        train = train.filter(lambda kind: kind in wanted, input_columns="kind")
    if config.train_limit is not None:
        train = train.select(range(min(config.train_limit, len(train))))
    if len(train) == 0:
        raise UsageError(f"{path}: no training rows of kind {', '.join(config.kinds)}")
    val = built.get("val")
    if val is not None:
        val = distinct_images(val, config.eval_limit)
    return train, val


def distinct_images(split, limit: int | None = None):
    """The first row of every distinct ``image_id`` (an image may carry several instruction rows)."""
    from builder.features import column

    seen, keep = set(), []
    for index, image_id in enumerate(column(split, "image_id")):
        if image_id not in seen:
            seen.add(image_id)
            keep.append(index)
            if limit is not None and len(keep) >= limit:
                break
    return split.select(keep) if len(keep) < len(split) else split


def gold_labels(split) -> list[str]:
    from builder.features import column

    names = split.features["emotion"]
    return [names.int2str(v) if isinstance(v, int) else v for v in column(split, "emotion")]


# ------------------------------------------------------------------------------------------------ metrics
def epoch_metrics(log_history: list[dict]) -> list[dict]:
    """Per epoch: mean training loss (step-weighted over the loss logs of that epoch) and eval metrics.

    Epoch ``e`` holds the logs with ``e-1 < epoch <= e``; an evaluation before training is epoch 0.
    """
    import math

    epochs: dict[int, dict] = {}
    previous_step = None
    for entry in log_history:
        if "epoch" not in entry:
            continue
        key = max(0, math.ceil(entry["epoch"] - 1e-6))
        record = epochs.setdefault(key, {"epoch": key, "step": 0, "_loss": 0.0, "_steps": 0})
        record["step"] = max(record["step"], int(entry.get("step", 0)))
        if "loss" in entry:
            step = int(entry["step"])  # a loss log averages the steps since the previous loss log
            span = max(step - (previous_step or 0), 1)
            record["_loss"] += entry["loss"] * span
            record["_steps"] += span
            previous_step = step
            record["learning_rate"] = entry.get("learning_rate")
        for name, value in entry.items():
            if name.startswith("eval_") and not name.endswith(("_runtime", "_per_second")):
                record[name] = value
    rows = []
    for key in sorted(epochs):
        record = epochs[key]
        steps, total = record.pop("_steps"), record.pop("_loss")
        record["train_loss"] = total / steps if steps else None
        rows.append(record)
    return rows


def metrics_document(log_history: list[dict], fingerprint: str | None = None) -> dict:
    epochs = epoch_metrics(log_history)
    final = next((e for e in reversed(log_history) if "train_runtime" in e), None)
    accuracies = [e["eval_accuracy"] for e in epochs if e.get("eval_accuracy") is not None]
    return {
        "fingerprint": fingerprint,
        "epochs": epochs,
        "best_eval_accuracy": max(accuracies) if accuracies else None,
        "final_eval_accuracy": accuracies[-1] if accuracies else None,
        "train": {k: v for k, v in (final or {}).items() if k != "epoch"},
    }


# ------------------------------------------------------------------------------------------------ trainer
def _trainer_classes():
    """The Trainer subclass and callbacks (defined lazily: transformers is imported only when training)."""
    from transformers import Trainer, TrainerCallback

    from emovit_model import checkpoint as ckpt

    class EmoVITTrainer(Trainer):
        """Trainer that checkpoints only the trainable weights (safetensors) and evaluates by ranking."""

        def __init__(self, *args, emovit_config: TrainConfig, **kwargs):
            super().__init__(*args, **kwargs)
            self.emovit_config = emovit_config

        def _save(self, output_dir=None, state_dict=None):
            output_dir = output_dir or self.args.output_dir
            if not self.args.should_save:
                return
            model = self.accelerator.unwrap_model(self.model)
            state = None
            if state_dict:  # DeepSpeed / FSDP hand over a gathered state dict: keep the trainable part
                names = {n for n, p in model.named_parameters() if p.requires_grad}
                state = {k.removeprefix("module."): v for k, v in state_dict.items()
                         if k.removeprefix("module.") in names}
            ckpt.save_adapter(model, output_dir, base=self.emovit_config.base, state=state)

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
            model = self.accelerator.unwrap_model(model or self.model)
            if (Path(resume_from_checkpoint) / ckpt.ADAPTER_CONFIG).is_file():
                ckpt.load_adapter(model, resume_from_checkpoint)
            else:
                super()._load_from_checkpoint(resume_from_checkpoint, model)

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
            import time

            import torch

            from emovit_model.scoring import EmotionClassifier

            dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
            if dataset is None:
                return {}
            start = time.time()
            cfg = self.emovit_config
            classifier = EmotionClassifier(
                self.accelerator.unwrap_model(self.model), self.processing_class, normalise=cfg.normalise,
                batch_size=cfg.eval_batch_size, max_prompt_tokens=cfg.max_prompt_tokens)
            indices = list(range(len(dataset)))
            with self.accelerator.split_between_processes(indices) as mine:
                rows = dataset.select(mine) if mine else None
                correct = 0
                if rows is not None:
                    predicted = classifier.predict(rows["image"])
                    correct = sum(p == g for p, g in zip(predicted, gold_labels(rows)))
                counts = torch.tensor([correct, len(mine)], dtype=torch.long, device=self.args.device)
            counts = self.accelerator.reduce(counts, reduction="sum").tolist()
            metrics = {
                f"{metric_key_prefix}_accuracy": counts[0] / max(counts[1], 1),
                f"{metric_key_prefix}_samples": counts[1],
                f"{metric_key_prefix}_runtime": round(time.time() - start, 4),
            }
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

    class EpochEndLogging(TrainerCallback):
        """Log the running loss at every epoch end, so each epoch's mean training loss is exact."""

        def on_epoch_end(self, args, state, control, **kwargs):
            control.should_log = True
            return control

    class MetricsFile(TrainerCallback):
        """Rewrite ``metrics.json`` from the log history whenever something is logged (main process)."""

        def __init__(self, path: Path, fingerprint: str):
            self.path, self.fingerprint = path, fingerprint

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero:
                from builder.runinfo import write_json

                write_json(self.path, metrics_document(state.log_history, self.fingerprint))

    return EmoVITTrainer, EpochEndLogging, MetricsFile


def _precision(config: TrainConfig) -> tuple[str, dict]:
    """``(dtype for the frozen towers, TrainingArguments precision flags)``."""
    import torch

    cuda = torch.cuda.is_available()
    choice = config.precision
    if choice == "auto":
        choice = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if choice in ("bf16", "fp16") and not cuda:
        raise UsageError(f"precision {choice} needs a CUDA device; use --precision fp32 on CPU")
    if choice == "bf16":
        return "bfloat16", {"bf16": True}
    if choice == "fp16":
        return "float16", {"fp16": True}
    return "float32", {}


def _checkpointing_flags(enabled: bool) -> dict:
    """Activation (gradient) checkpointing under the argument name this transformers version uses."""
    if not enabled:
        return {}
    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    key = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {key: True, f"{key}_kwargs": {"use_reentrant": False}}


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _versions() -> dict:
    import datasets
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "datasets": datasets.__version__,
            "python": sys.version.split()[0]}


def train(config: TrainConfig, *, resume: bool | str = False, callbacks=None) -> TrainResult:
    """Run one training job; returns where the outputs went and the metrics document."""
    from transformers import TrainingArguments
    from transformers.trainer_utils import get_last_checkpoint

    from builder.runinfo import fingerprint, to_jsonable, write_json
    from emovit_model import checkpoint as ckpt
    from emovit_model.collator import EmoVITCollator, RandomResizedCropFlip
    from emovit_model.model import load_emovit, model_summary

    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = out / CHECKPOINT_DIR
    if resume is True:
        last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last is None:
            raise UsageError(f"--resume: no checkpoint-* directory under {checkpoints}")
        resume = last
    elif resume and not Path(resume).is_dir():
        raise UsageError(f"--resume: {resume} is not a checkpoint directory")

    train_rows, val_rows = load_splits(config)
    frozen_dtype, precision_flags = _precision(config)
    is_main = _is_main_process()
    model, processor = load_emovit(config.base, device="cpu", dtype=frozen_dtype,
                                   train_vision_layernorm=config.train_vision_layernorm, verbose=is_main)
    if config.lavis_checkpoint:
        report = ckpt.import_lavis(model, config.lavis_checkpoint)
        if is_main:
            print(f"LAVIS checkpoint {config.lavis_checkpoint}: {report.summary()}")
    model.config.use_cache = False

    run_fingerprint = fingerprint({k: v for k, v in dataclasses.asdict(config).items()
                                   if k not in ("out", "progress", "merge", "num_workers", "eval_batch_size")})
    if is_main:
        previous = out / RUN_CONFIG
        if resume and previous.is_file():
            earlier = json.loads(previous.read_text(encoding="utf-8")).get("fingerprint")
            if earlier != run_fingerprint:
                print(f"warning: resuming a run whose options differ (fingerprint {earlier} -> {run_fingerprint})",
                      file=sys.stderr)
        write_json(out / RUN_CONFIG, {
            "config": to_jsonable(config), "fingerprint": run_fingerprint, "resume": str(resume) if resume else None,
            "versions": _versions(), "parameters": model_summary(model),
            "rows": {"train": len(train_rows), "val_images": len(val_rows) if val_rows is not None else 0},
            "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        })

    collator = EmoVITCollator(processor, max_prompt_tokens=config.max_prompt_tokens,
                              max_answer_tokens=config.max_answer_tokens, normalise=config.normalise,
                              augment=RandomResizedCropFlip() if config.augment else None)
    save_flags = ({"save_strategy": "steps", "save_steps": config.save_steps} if config.save_steps
                  else {"save_strategy": "epoch"})
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        adam_beta1=config.adam_betas[0],
        adam_beta2=config.adam_betas[1],
        optim="adamw_torch",
        lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr": config.min_lr},
        warmup_steps=config.warmup_steps,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="epoch" if val_rows is not None else "no",
        eval_on_start=config.eval_on_start and val_rows is not None,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        save_total_limit=config.save_total_limit,
        remove_unused_columns=False,
        dataloader_num_workers=config.num_workers,
        dataloader_pin_memory=_cuda_available(),
        report_to="none",
        disable_tqdm=not config.progress,
        **save_flags,
        **precision_flags,
        **_checkpointing_flags(config.gradient_checkpointing),
    )
    EmoVITTrainer, EpochEndLogging, MetricsFile = _trainer_classes()
    trainer = EmoVITTrainer(
        model=model, args=args, train_dataset=train_rows, eval_dataset=val_rows, data_collator=collator,
        processing_class=processor, emovit_config=config,
        callbacks=[EpochEndLogging(), MetricsFile(out / METRICS, run_fingerprint), *(callbacks or [])],
    )
    trainer.train(resume_from_checkpoint=resume or None)

    adapter_dir, merged_dir = out / ADAPTER_DIR, None
    document = metrics_document(trainer.state.log_history, run_fingerprint)
    if trainer.is_world_process_zero():
        ckpt.save_adapter(trainer.accelerator.unwrap_model(trainer.model), adapter_dir, base=config.base,
                          processor=processor, extra={"run_fingerprint": run_fingerprint})
        write_json(out / METRICS, document)
        if config.merge:
            merged_dir = ckpt.merge_adapter(adapter_dir, out / MERGED_DIR, base=config.base)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(out=out, adapter=adapter_dir, metrics=document, merged=merged_dir,
                       global_step=trainer.state.global_step, log_history=list(trainer.state.log_history),
                       model=trainer.accelerator.unwrap_model(trainer.model))


# ------------------------------------------------------------------------------------------------ CLI
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
    "max_prompt_tokens": ("--max-prompt-tokens", {"type": int, "help": "instruction budget, cut from the left"}),
    "max_answer_tokens": ("--max-answer-tokens", {"type": int, "help": "answer budget"}),
    "lavis_checkpoint": ("--lavis-checkpoint", {"help": "initialise from an original LAVIS/EmoVIT .pth"}),
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
    for name, (flag, value, text) in _SWITCHES.items():
        parser.add_argument(flag, dest=name, action="store_const", const=value, default=argparse.SUPPRESS,
                            help=text)
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                        help="continue from the newest checkpoint in OUT/checkpoints (or from CHECKPOINT)")
    parser.add_argument("--config", default=None, help="a run_config.json (or plain JSON of options) to start from")
    parser.add_argument("--merge-only", action="store_true",
                        help="skip training: merge OUT/adapter (or, with --lavis-checkpoint, the imported .pth) "
                             "onto its base into OUT/merged")


def config_from_args(args) -> TrainConfig:
    values: dict = {}
    if args.config:
        try:
            document = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
        values.update(document.get("config", document))
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    values.update(given)
    if isinstance(values.get("kinds"), str):
        values["kinds"] = tuple(k.strip() for k in values["kinds"].split(",") if k.strip())
    for name in ("kinds", "adam_betas"):
        if name in values:
            values[name] = tuple(values[name])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in values.items() if k in known}
    missing = [f"--{k}" for k in ("dataset", "base", "out") if not values.get(k)]
    if missing:
        raise UsageError(f"missing required option(s): {', '.join(missing)}")
    return TrainConfig(**values)


def _merge_only(args) -> int:
    from emovit_model.checkpoint import convert_lavis_checkpoint, merge_adapter

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


def run(args) -> int:
    if args.merge_only:
        return _merge_only(args)
    config = config_from_args(args)
    result = train(config, resume=args.resume)
    if _is_main_process():
        for row in result.metrics["epochs"]:
            loss = "-" if row.get("train_loss") is None else f"{row['train_loss']:.4f}"
            accuracy = "-" if row.get("eval_accuracy") is None else f"{row['eval_accuracy']:.3f}"
            print(f"epoch {row['epoch']}: step {row['step']} train_loss {loss} eval_accuracy {accuracy}")
        print(f"adapter -> {result.adapter}" + (f"; merged -> {result.merged}" if result.merged else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m emovit_model.train`` (and ``accelerate launch -m``)."""
    parser = argparse.ArgumentParser(prog="emovit train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"emovit train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
