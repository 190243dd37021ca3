"""The options of one training run (saved as ``run_config.json``) and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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
