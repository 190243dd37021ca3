"""The training run, top to bottom: data, model, Trainer, outputs.

The same recipe trains EmoVIT (an InstructBLIP base: Q-Former policy, :class:`EmoVITCollator`) and the
benchmark's ``llava-ft`` (a LLaVA base: projector-only or LoRA tuning, :class:`LlavaCollator`): same data
loading, Trainer, checkpoints, adapters and per-epoch ranking evaluation.

Read :func:`train` as the recipe. The pieces it calls live beside it: options in
:mod:`emovit_model.train.config`, rows in :mod:`emovit_model.train.data`, the Trainer subclass and callbacks
in :mod:`emovit_model.train.trainer`, per-epoch figures in :mod:`emovit_model.train.metrics`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from emovit_model.train.config import (
    ADAPTER_DIR,
    CHECKPOINT_DIR,
    EVAL_DIR,
    MERGED_DIR,
    METRICS,
    RUN_CONFIG,
    TrainConfig,
    TrainResult,
)
from emovit_model.train.data import load_splits
from emovit_model.train.metrics import metrics_document
from schemas.errors import UsageError


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


def _parallel_flags() -> dict:
    """TrainingArguments for a launch with several processes (``torchrun`` / ``accelerate launch``).

    Every trainable tensor of both recipes takes part in every forward pass, so DDP need not search for unused
    ones. Without a GPU the Trainer joins the launcher's process group only when told to run on CPU (gloo);
    with GPUs it takes the launcher's ranks itself."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return {}
    flags = {"ddp_find_unused_parameters": False}
    if not _cuda_available():
        flags.update(use_cpu=True, ddp_backend="gloo")
    return flags


def is_main_process() -> bool:
    """Whether this process has rank 0 (or runs alone)."""
    return int(os.environ.get("RANK", "0")) == 0


def _versions() -> dict:
    import datasets
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "datasets": datasets.__version__,
            "python": sys.version.split()[0]}


def lora_settings(config: TrainConfig):
    """The run's LoRA settings (used only when a LLaVA base trains with ``tuning`` lora)."""
    from emovit_model.model import LoraSettings

    return LoraSettings(r=config.lora_r, alpha=config.lora_alpha, dropout=config.lora_dropout,
                        targets=tuple(config.lora_targets))


def adapter_extra(config: TrainConfig, tuning: str) -> dict:
    """What an adapter's config records about how it was trained (LoRA settings, so loading can re-inject)."""
    extra: dict = {"tuning": tuning}
    if tuning == "lora":
        extra["lora"] = lora_settings(config).as_dict()
    return extra


def make_collator(config: TrainConfig, processor, model_type: str):
    """The collator of the model type's family (EmoVIT's InstructBLIP collator, or the LLaVA-1.5 conversation
    collator), with the run's options."""
    from emovit_model.collators.instructblip import RandomResizedCropFlip
    from emovit_model.families import family_of_type

    augment = RandomResizedCropFlip() if config.augment else None
    return family_of_type(model_type).collator_class().for_training(processor, config, augment)


def checkpoint_folders(checkpoints: Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders under ``checkpoints``, newest (highest step) first."""
    import re

    if not checkpoints.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in checkpoints.iterdir()
             if (match := re.fullmatch(r"checkpoint-(\d+)", path.name)) and path.is_dir()]
    return [path for _, path in sorted(found, reverse=True)]


def is_complete_checkpoint(folder: Path) -> bool:
    """Whether a checkpoint was written to the end: ``trainer_state.json`` (the Trainer writes it last) parses."""
    try:
        return isinstance(json.loads((folder / "trainer_state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def newest_complete_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint; an incomplete one (a save cut short) is skipped with a warning."""
    for folder in checkpoint_folders(checkpoints):
        if is_complete_checkpoint(folder):
            return folder
        print(f"warning: skipping {folder}: incomplete (no readable trainer_state.json; its save was cut short)",
              file=sys.stderr)
    return None


def prepare_run_folder(config: TrainConfig, resume: bool | str, overwrite: bool) -> bool | str:
    """Check and prepare the run folder; returns the checkpoint to resume from (or False).

    A file at ``out`` is refused; so is a folder holding an earlier run's checkpoints, unless ``resume``
    continues it or ``overwrite`` removes them. Staging folders of a checkpoint save cut short are removed."""
    import shutil

    out = config.out_dir
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; choose another --out")
    checkpoints = out / CHECKPOINT_DIR
    earlier = checkpoint_folders(checkpoints)
    if earlier and not resume:
        if not overwrite:
            raise UsageError(f"--out {out}: holds the checkpoints of an earlier run ({earlier[0].name}, ...); continue "
                             "it with --resume, or start afresh with --overwrite")
        if is_main_process():
            shutil.rmtree(checkpoints, ignore_errors=True)
            shutil.rmtree(out / EVAL_DIR, ignore_errors=True)
    if checkpoints.is_dir() and is_main_process():
        for stale in checkpoints.glob(".saving-*"):
            print(f"warning: removing {stale}: a checkpoint save that was cut short", file=sys.stderr)
            shutil.rmtree(stale, ignore_errors=True)
    if resume is True:
        last = newest_complete_checkpoint(checkpoints)
        if last is None:
            raise UsageError(f"--resume: no checkpoint to continue from under {checkpoints} (none, or none complete)")
        return str(last)
    if resume and not (Path(resume).is_dir() and is_complete_checkpoint(Path(resume))):
        raise UsageError(f"--resume: {resume} is not a complete checkpoint directory")
    out.mkdir(parents=True, exist_ok=True)
    return resume


def train(config: TrainConfig, *, resume: bool | str = False, callbacks=None, overwrite: bool = False
          ) -> TrainResult:
    """Run one training job; returns where the outputs went and the metrics document.

    A non-finite loss, gradient norm or trained weight stops the run with a
    :class:`~emovit_model.train.config.TrainingDiverged` naming the step; no accuracy is reported then."""
    from transformers import TrainingArguments

    from builder.dataset.stored import check_source_images
    from emovit_model import checkpoint as ckpt
    from emovit_model.lavis import import_lavis
    from emovit_model.model import load_for_training, model_summary
    from emovit_model.train.trainer import (
        EmoVITTrainer,
        EpochEndLogging,
        FiniteGuard,
        MetricsFile,
        check_finite_weights,
        use_log_lines,
    )
    from schemas.runinfo import fingerprint, to_jsonable, write_json

    out = config.out_dir
    resume = prepare_run_folder(config, resume, overwrite)
    checkpoints = out / CHECKPOINT_DIR

    train_rows, val_rows = load_splits(config)
    check_source_images(config.dataset, {"train": train_rows, "val": val_rows}
                        if val_rows is not None else {"train": train_rows}, max_pixels=config.max_pixels)
    frozen_dtype, precision_flags = _precision(config)
    is_main = is_main_process()
    model, processor, tuning = load_for_training(
        config.base, tuning=config.tuning, lora=lora_settings(config), device="cpu", dtype=frozen_dtype,
        train_vision_layernorm=config.train_vision_layernorm, verbose=is_main)
    model_type = model.config.model_type
    if model_type != "instructblip" and (config.lavis_checkpoint or config.merge):
        raise UsageError("--lavis-checkpoint and --merge apply to EmoVIT (InstructBLIP) runs only; a LLaVA run "
                         "publishes its adapter, which load_model puts on the base")
    if config.lavis_checkpoint:
        report = import_lavis(model, config.lavis_checkpoint)
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

    collator = make_collator(config, processor, model_type)
    extra = adapter_extra(config, tuning)
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
        **_parallel_flags(),
        **_checkpointing_flags(config.gradient_checkpointing),
    )
    trainer = EmoVITTrainer(
        model=model, args=args, train_dataset=train_rows, eval_dataset=val_rows, data_collator=collator,
        processing_class=processor, emovit_config=config, eval_dir=out / EVAL_DIR, adapter_extra=extra,
        callbacks=[EpochEndLogging(), FiniteGuard(), MetricsFile(out / METRICS, run_fingerprint), *(callbacks or [])],
    )
    use_log_lines(trainer)
    trainer.train(resume_from_checkpoint=resume or None)
    check_finite_weights(trainer.accelerator.unwrap_model(trainer.model), trainer.state.global_step)

    adapter_dir, merged_dir = out / ADAPTER_DIR, None
    document = metrics_document(trainer.state.log_history, run_fingerprint)
    if trainer.is_world_process_zero():
        ckpt.save_adapter(trainer.accelerator.unwrap_model(trainer.model), adapter_dir, base=config.base,
                          processor=processor, extra={"run_fingerprint": run_fingerprint, **extra})
        write_json(out / METRICS, document)
        if config.merge:
            merged_dir = ckpt.merge_adapter(adapter_dir, out / MERGED_DIR, base=config.base)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(out=out, adapter=adapter_dir, metrics=document, merged=merged_dir,
                       global_step=trainer.state.global_step, log_history=list(trainer.state.log_history),
                       model=trainer.accelerator.unwrap_model(trainer.model))
