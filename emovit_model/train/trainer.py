"""The Trainer subclass EmoVIT trains with, and the callbacks of a run.

Public extension points first: ``save_model`` (checkpoints and the final save go through it) writes the
trainable weights as a safetensors adapter, ``training_step`` stops the run on a non-finite loss, and
``evaluate`` ranks the candidate answers per validation image (after checking the weights are finite) and
writes the per-sample predictions. Two private hooks, each a few lines that ``tests/model/test_train.py``
watches: :meth:`EmoVITTrainer._load_from_checkpoint` loads an adapter checkpoint on resume, and
:meth:`EmoVITTrainer._save_checkpoint` writes each checkpoint into a hidden staging folder and renames it into
place, so a save cut short (SIGTERM, a full disk) never leaves a ``checkpoint-<step>`` that ``--resume`` would
trip over.

This module imports transformers at import time: :mod:`emovit_model.train.recipe` imports it only when a
run starts.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path

from transformers import ProgressCallback, Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from emovit_model import checkpoint as ckpt
from emovit_model.train.config import TrainConfig, TrainingDiverged
from emovit_model.train.data import gold_labels
from emovit_model.train.metrics import metrics_document
from schemas.features import column
from schemas.jsonlines import dumps_line
from schemas.runinfo import write_json

#: What a user can do about a run that diverged.
DIVERGED_HINT = "training stopped, no accuracy is reported (lower --lr, or clip gradients with --max-grad-norm)"


def trainable_tensors(model) -> list:
    return [param for param in model.parameters() if param.requires_grad]


def check_finite_weights(model, step: int) -> None:
    """A :class:`TrainingDiverged` naming ``step`` when a trained weight holds NaN or an infinity."""
    import torch

    params = trainable_tensors(model)
    if not params:
        return
    finite = torch.stack([torch.isfinite(param.detach()).all() for param in params])
    bad = int((~finite).sum())  # one device sync for the whole model
    if bad:
        raise TrainingDiverged(f"step {step}: {bad} of {len(params)} trained weight tensors hold NaN or infinite "
                               f"values; {DIVERGED_HINT}")


class EmoVITTrainer(Trainer):
    """Trainer that checkpoints only the trainable weights (safetensors) and evaluates by ranking.

    Args (besides the Trainer's):
        emovit_config: the run's options (base reference, evaluation batch and prompt settings).
        eval_dir: where ``epoch-<n>.jsonl`` per-sample validation predictions go (None: not written).
        adapter_extra: recorded in every adapter config written (tuning, LoRA settings).
    """

    def __init__(self, *args, emovit_config: TrainConfig, eval_dir: Path | None = None,
                 adapter_extra: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.emovit_config = emovit_config
        self.eval_dir = eval_dir
        self.adapter_extra = dict(adapter_extra or {})

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        """Write the trainable tensors as an adapter directory (checkpoints and the final model alike)."""
        output_dir = output_dir or self.args.output_dir
        model = self.accelerator.unwrap_model(self.model)
        state = None
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:  # sharded weights: gather (a collective call)
            names = {n for n, p in model.named_parameters() if p.requires_grad}
            full = self.accelerator.get_state_dict(self.model)
            state = {k.removeprefix("module."): v for k, v in (full or {}).items()
                     if k.removeprefix("module.") in names}
        if self.args.should_save:
            ckpt.save_adapter(model, output_dir, base=self.emovit_config.base, state=state, extra=self.adapter_extra)

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step, stopped with one line naming the step when the loss is not finite (the Trainer
        itself would quietly replace it by the running mean)."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        value = float(loss.detach().float().sum())
        if not math.isfinite(value):
            raise TrainingDiverged(f"step {self.state.global_step + 1}: the training loss is {value}; {DIVERGED_HINT}")
        return loss

    def _save_checkpoint(self, model, trial):
        """Private Trainer hook: the Trainer's checkpoint, written into ``.saving-<step>`` under the checkpoint
        folder and renamed to ``checkpoint-<step>`` once complete; then the older ones are rotated."""
        final = self.args.output_dir
        staging = os.path.join(final, f".saving-{self.state.global_step}")
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        if self.args.should_save:
            shutil.rmtree(staging, ignore_errors=True)
            os.makedirs(staging)
        self.accelerator.wait_for_everyone()
        self.args.output_dir = staging
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.output_dir = final
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            target = os.path.join(final, name)
            shutil.rmtree(target, ignore_errors=True)  # the same step saved again (an epoch end after a step save)
            os.rename(os.path.join(staging, name), target)
            shutil.rmtree(staging, ignore_errors=True)
            rotate_checkpoints(output_dir=final, save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint)
        self.accelerator.wait_for_everyone()

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        """Private Trainer hook (no public one loads weights on resume): read our adapter checkpoints."""
        if not (Path(resume_from_checkpoint) / ckpt.ADAPTER_CONFIG).is_file():
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        ckpt.load_adapter(self.accelerator.unwrap_model(model or self.model), resume_from_checkpoint)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        """Validation accuracy by likelihood ranking, each process scoring its share of the images."""
        from accelerate.utils import gather_object

        from emovit_model.scoring import EmotionClassifier
        from schemas.protocol import categorical_instruction

        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if dataset is None:
            return {}
        start = time.time()
        config = self.emovit_config
        check_finite_weights(self.accelerator.unwrap_model(self.model), self.state.global_step)
        labels = tuple(sorted(dataset.features["emotion"].names))
        classifier = EmotionClassifier(
            self.accelerator.unwrap_model(self.model), self.processing_class, normalise=config.normalise,
            batch_size=config.eval_batch_size, max_prompt_tokens=config.max_prompt_tokens,
            labels=labels, instruction=categorical_instruction(labels))
        # contiguous, unpadded shares: every image is scored once, and gathering keeps the split's order
        with self.accelerator.split_between_processes(list(range(len(dataset))), apply_padding=False) as mine:
            rows = dataset.select(mine)
            scored = list(zip(column(rows, "image_id"), gold_labels(rows), classifier.predict(column(rows, "image"))))
        scored = gather_object(scored)
        correct = sum(gold == predicted for _, gold, predicted in scored)
        metrics = {
            f"{metric_key_prefix}_accuracy": correct / max(len(scored), 1),
            f"{metric_key_prefix}_samples": len(scored),
            f"{metric_key_prefix}_runtime": round(time.time() - start, 4),
        }
        if self.eval_dir is not None and self.is_world_process_zero():
            self._write_predictions(scored)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _write_predictions(self, scored: list[tuple[str, str, str]]) -> None:
        self.eval_dir.mkdir(parents=True, exist_ok=True)
        epoch = round(self.state.epoch or 0.0)
        with open(self.eval_dir / f"epoch-{epoch}.jsonl", "w", encoding="utf-8", newline="") as handle:
            handle.writelines(dumps_line({"image_id": image_id, "gold": gold, "pred": predicted,
                                          "step": self.state.global_step}) for image_id, gold, predicted in scored)


class FiniteGuard(TrainerCallback):
    """Stop the run, naming the step, when the gradient norm before an optimiser step, or a trained weight
    after it, is not finite: nothing non-finite is logged, saved or evaluated."""

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        import torch

        grads = [param.grad.detach() for param in trainable_tensors(model) if param.grad is not None]
        if grads:
            norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])))
            if not math.isfinite(norm):
                raise TrainingDiverged(f"step {state.global_step + 1}: the gradient norm is {norm}; {DIVERGED_HINT}")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        check_finite_weights(model, state.global_step)


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
            write_json(self.path, metrics_document(state.log_history, self.fingerprint))


def log_line(logs: dict) -> str:
    """One log entry as ``key value`` pairs with numbers as numbers (``loss 2.079 learning_rate 0.005``)."""
    parts = []
    for key, value in logs.items():
        if key == "total_flos":
            continue
        if isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key} {value}")
    return " | ".join(parts)


def _print_log(state, logs: dict, write=print) -> None:
    if state.is_world_process_zero and logs:
        write(f"step {state.global_step} | {log_line(logs)}")


class ProgressWithLogLines(ProgressCallback):
    """The Trainer's progress bar, with log entries written as readable lines instead of dict reprs."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        _print_log(state, logs, self.training_bar.write if self.training_bar is not None else print)


class LogLinePrinter(TrainerCallback):
    """Log entries as readable lines, without progress bars."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        _print_log(state, logs)


def use_log_lines(trainer: Trainer) -> None:
    """Swap the Trainer's default log printers (dict reprs with quoted numbers) for readable lines."""
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(LogLinePrinter() if trainer.args.disable_tqdm else ProgressWithLogLines())
