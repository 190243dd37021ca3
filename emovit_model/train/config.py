"""The options of one training run (saved as ``run_config.json``) and what a run returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from builder.sources.imagefiles import DEFAULT_MAX_PIXELS
from schemas.errors import UsageError
from schemas.protocol import KINDS

#: Tunings a run can ask for (``auto``: EmoVIT's Q-Former policy on InstructBLIP, LoRA on LLaVA).
TUNING_CHOICES: tuple[str, ...] = ("auto", "qformer", "projector", "lora")

CHECKPOINT_DIR = "checkpoints"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"
EVAL_DIR = "eval"
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
    tuning: str = "auto"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    train_fraction: float = 1.0
    max_length: int = 2048
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        problems = _type_problems(self)
        if problems:  # the checks below compare numbers: stop at values that are not numbers of the right kind
            raise UsageError("; ".join(problems))
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
        if self.tuning not in TUNING_CHOICES:
            problems.append(f"tuning must be one of {', '.join(TUNING_CHOICES)}, got {self.tuning!r}")
        if self.lora_r < 1 or self.lora_alpha < 1 or not 0 <= self.lora_dropout < 1 or not self.lora_targets:
            problems.append("lora_r and lora_alpha must be >= 1, lora_dropout in [0, 1), lora_targets non-empty")
        if not 0 < self.train_fraction <= 1:
            problems.append(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if self.max_length < 2:
            problems.append("max_length must be >= 2")
        for name in ("train_limit", "eval_limit", "save_steps", "save_total_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"{name} must be >= 1 when given")
        if self.min_lr < 0 or self.min_lr > self.lr:
            problems.append(f"min_lr must be between 0 and lr, got {self.min_lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm < 0:
            problems.append(f"max_grad_norm must be >= 0 (0: off), got {self.max_grad_norm}")
        if len(self.adam_betas) != 2 or not all(0 <= beta < 1 for beta in self.adam_betas):
            problems.append(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas}")
        if self.logging_steps < 1:
            problems.append(f"logging_steps must be >= 1, got {self.logging_steps}")
        if self.num_workers < 0:
            problems.append(f"num_workers must be >= 0, got {self.num_workers}")
        if not 0 <= self.seed < 2 ** 32:
            problems.append(f"seed must be between 0 and 2**32 - 1, got {self.seed}")
        if self.max_pixels < 1:
            problems.append(f"max_pixels must be >= 1, got {self.max_pixels}")
        if problems:
            raise UsageError("; ".join(problems))

    @property
    def out_dir(self) -> Path:
        return Path(self.out)


class TrainingDiverged(UsageError):
    """Training met a non-finite loss, gradient norm or weight: it stops, naming the step, and reports no
    accuracy."""


#: Fields holding real numbers: each must be finite (NaN and infinities train a broken model).
_FLOAT_FIELDS = ("epochs", "lr", "min_lr", "weight_decay", "warmup_steps", "max_grad_norm", "lora_dropout",
                 "train_fraction")
#: Fields holding whole numbers.
_INT_FIELDS = ("batch_size", "grad_accum", "max_steps", "seed", "max_prompt_tokens", "max_answer_tokens",
               "eval_batch_size", "logging_steps", "num_workers", "lora_r", "lora_alpha", "max_length", "max_pixels")
_OPTIONAL_INT_FIELDS = ("train_limit", "eval_limit", "save_steps", "save_total_limit")


def _type_problems(config: TrainConfig) -> list[str]:
    """Options that are not numbers of the right kind: a real number must be finite, a count a whole number
    (a ``--config`` file may hold anything)."""
    problems = []

    def real(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    for name in _FLOAT_FIELDS:
        if not real(getattr(config, name)):
            problems.append(f"{name} must be a finite number, got {getattr(config, name)!r:.40}")
    for name in _INT_FIELDS + _OPTIONAL_INT_FIELDS:
        value = getattr(config, name)
        if not (isinstance(value, int) and not isinstance(value, bool)) and not (
                value is None and name in _OPTIONAL_INT_FIELDS):
            problems.append(f"{name} must be a whole number, got {value!r:.40}")
    betas = config.adam_betas
    if not isinstance(betas, tuple) or not all(real(beta) for beta in betas):
        problems.append(f"adam_betas must be two finite numbers, got {betas!r:.60}")
    for name in ("dataset", "base", "out"):
        value = getattr(config, name)
        if not isinstance(value, str) or "\x00" in value:
            problems.append(f"{name} must be a path without NUL characters, got {value!r:.60}")
    return problems


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
