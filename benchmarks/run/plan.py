"""``emovit bench plan``: know before renting a GPU. Every model entry of a run config, from its config alone.

For each local model the config is read (``AutoConfig``, no weights; for the Hub checkpoints the packaged configs
name, from the copy of their ``config.json`` shipped in ``benchmarks/configs/models/``, so a plan needs no
network) and the model is built on the meta device (``accelerate.init_empty_weights``), which gives the exact
parameter count. Then:

* **weights** — the parameters times the element size of the run's dtype (``auto`` counts as bf16, what a CUDA
  GPU with bf16 gets; ``dtype=float16`` or ``float32`` override);
* **prompt tokens** — image tokens (the Q-Former's queries; LLaVA-1.5's 576; the worst case of LLaVA-NeXT's
  any-resolution grid and of LLaVA-OneVision's ``anyres_max_9``; Idefics3's 4 x 4 tiles and global view;
  InternVL's 12 tiles and thumbnail; the Qwen-VL family's merged patches of a ``--image-size`` square; Gemma 3's
  fixed soft tokens; or the config's own count) plus the longest instruction of the config's tasks and the chat
  layout (16 tokens);
* **answer tokens** — what follows the prompt in the cache: the ranked answer (16 tokens) in ``rank`` mode, the
  generation budget in ``generate`` mode (the model entry's ``max_new_tokens``, else the task's: thinking models
  need thousands), the larger over the config's tasks;
* **KV cache** — 2 (keys, values) x layers x key/value heads x head size x element size, per token, times the
  prompt and answer tokens and the batch size;
* **total** — weights + KV cache, against the ``--gpu-memory`` budget: fits or not, and the largest batch that
  fits. Activations, the CUDA context and allocator slack are not counted: leave a few GiB of headroom.

API models (adapter ``openai``) need no GPU and are listed as such; CLIP keeps no cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from benchmarks.spec.config import BenchConfig, generation_budget

GIB = 1024 ** 3
#: Tokens counted for the chat layout around the instruction, and for a ranked answer.
LAYOUT_TOKENS = 16
ANSWER_TOKENS = 16
#: Copies of the ``config.json`` of the Hub checkpoints the packaged configs name (``<org>--<name>/config.json``).
SHIPPED_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "models"


@dataclass(frozen=True)
class ModelPlan:
    """The memory plan of one model entry (``parameters`` 0 and ``local`` False for an API model)."""

    name: str
    reference: str
    family: str
    local: bool = True
    parameters: int = 0
    dtype: str = ""
    weight_bytes: int = 0
    prompt_tokens: int = 0
    kv_bytes_per_token: int = 0
    batch_size: int = 1
    answer_tokens: int = ANSWER_TOKENS
    mode: str = "rank"
    shipped: bool = False

    @property
    def cache_tokens(self) -> int:
        """Tokens one sample keeps in the KV cache: the prompt, then the ranked or generated answer."""
        return self.prompt_tokens + self.answer_tokens

    @property
    def kv_bytes(self) -> int:
        return self.kv_bytes_per_token * self.cache_tokens * self.batch_size

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_bytes

    def largest_batch(self, budget_bytes: float) -> int:
        """The largest batch whose weights and KV cache fit ``budget_bytes`` (0 when the weights alone do not)."""
        per_sample = self.kv_bytes_per_token * self.cache_tokens
        room = budget_bytes - self.weight_bytes
        if room < 0:
            return 0
        return int(room // per_sample) if per_sample else 10 ** 9


def plan_dtype(name: str):
    """The torch dtype a plan counts in: ``auto`` is bf16 (a GPU's choice)."""
    import torch

    from emovit_model.model import resolve_dtype

    return torch.bfloat16 if name in (None, "auto") else resolve_dtype(name, torch.device("cpu"))


def meta_model(config):
    """The model of ``config`` on the meta device: shapes and parameter count, no memory, no weights read."""
    from accelerate import init_empty_weights

    from emovit_model.model import model_class

    cls = model_class(config)
    with init_empty_weights():  # an Auto class builds with from_config, a model class with _from_config
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls._from_config(config)
    model.tie_weights()  # as from_pretrained does: tied embeddings are one parameter
    return model


def weight_bytes(model, dtype) -> tuple[int, int]:
    """``(parameters, bytes)`` of ``model`` held in ``dtype`` (floating-point parameters; others as they are)."""
    import torch

    size = torch.empty((), dtype=dtype).element_size()
    count = total = 0
    for parameter in model.parameters():
        count += parameter.numel()
        total += parameter.numel() * (size if parameter.is_floating_point() else parameter.element_size())
    return count, total


def kv_bytes_per_token(config, dtype) -> int:
    """Bytes of keys and values one prompt token keeps in the language model's cache (0 for CLIP)."""
    import torch

    if config.model_type == "clip":
        return 0
    text = config.get_text_config(decoder=True)
    layers = text.num_hidden_layers
    heads = text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return 2 * layers * kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()


def image_tokens(config, image_size: int = 512) -> int:
    """Image tokens one image puts in the prompt (worst case for any-resolution models), by the rule of the
    config's family (:mod:`emovit_model.families`, :mod:`emovit_model.image_tokens`)."""
    from emovit_model.families import family_for

    return family_for(config).image_tokens(config, image_size)


def text_tokens(reference: str, instructions: list[str]) -> int:
    """Tokens of the longest instruction: counted with the checkpoint's tokenizer when it can be read, else
    estimated at 3 characters a token (Llama tokenizers average about 4 on English prose)."""
    longest = max(instructions, key=len, default="")
    folder = Path(reference)
    if not folder.is_dir() or (folder / "tokenizer_config.json").is_file():
        try:
            from transformers import AutoTokenizer

            return len(AutoTokenizer.from_pretrained(reference)(longest)["input_ids"])
        except (OSError, ValueError, TypeError):
            pass
    return math.ceil(len(longest) / 3)


def task_instructions(config: BenchConfig) -> list[str]:
    """Every fixed instruction the config's tasks ask (reasoning rows bring their own: 128 tokens' worth)."""
    from benchmarks.spec.task import load_task

    found = []
    for name in config.tasks:
        task = load_task(name)
        if task.source == "derived":
            continue
        found += [text if text else "x" * 3 * 128 for text in task.questions().values()]
    return found


def shipped_config(reference: str) -> Path | None:
    """The shipped copy of Hub checkpoint ``reference``'s config folder (``org/name``), if there is one and no local
    folder of that name."""
    if reference.count("/") != 1 or Path(reference).exists():
        return None
    folder = SHIPPED_CONFIGS / reference.replace("/", "--")
    return folder if (folder / "config.json").is_file() else None


def _reference(entry: dict, out: Path) -> str:
    """What the entry's scores come from: its path, or the base it trains on (an adapter's own weights are small);
    an adapter folder stands for its base; ``zoo:<kind>`` is written under ``OUT/_zoo`` as a run would."""
    from benchmarks.adapters import ADAPTERS
    from benchmarks.run.prepare import processes, resolve_reference
    from emovit_model.model import is_adapter_dir

    adapter = ADAPTERS.load(entry["adapter"])
    reference = entry.get("path") or entry.get("base") or adapter.checkpoint
    reference = resolve_reference(reference, out, processes("cpu"))
    if is_adapter_dir(reference):
        from emovit_model.checkpoint import read_adapter_config, resolve_base

        reference = str(resolve_base(reference, read_adapter_config(reference)["base_model"]))
    return reference


def answer_tokens(entry: dict, tasks, mode: str) -> tuple[int, str]:
    """``(tokens after the prompt, modes)`` of a model entry over ``tasks``: a ranked answer's 16, or in generate
    mode (the task's, else the entry's, else the config's ``mode``) the generation budget; the largest."""
    counts, modes = [], set()
    for task in tasks:
        chosen = task.mode or entry.get("mode") or mode
        modes.add(chosen)
        counts.append(generation_budget(entry, task) if chosen == "generate" else ANSWER_TOKENS)
    return max(counts, default=ANSWER_TOKENS), "+".join(sorted(modes or {mode}))


def plan_config(config: BenchConfig, *, image_size: int = 512) -> list[ModelPlan]:
    """A :class:`ModelPlan` per model entry of ``config``."""
    from benchmarks.spec.task import load_task
    from emovit_model.families import FAMILIES, family_for
    from emovit_model.model import read_model_config

    dtype = plan_dtype(config.dtype)
    instructions = task_instructions(config)
    tasks = [task for task in map(load_task, config.tasks) if task.source != "derived"]
    plans = []
    for entry in config.models:
        if entry["adapter"] == "openai":
            plans.append(ModelPlan(entry["name"], entry.get("path") or FAMILIES["openai"].checkpoint, "openai",
                                   local=False))
            continue
        reference = _reference(entry, Path(config.out))
        source = shipped_config(reference) or reference
        model_config = read_model_config(source)
        count, size = weight_bytes(meta_model(model_config), dtype)
        prompt = image_tokens(model_config, image_size) + text_tokens(str(source), instructions) + LAYOUT_TOKENS
        answer, modes = answer_tokens(entry, tasks, config.mode)
        plans.append(ModelPlan(entry["name"], reference, family_for(model_config).load().family, True, count,
                               str(dtype).replace("torch.", ""), size, prompt,
                               kv_bytes_per_token(model_config, dtype), config.batch_size, answer, modes,
                               source != reference))
    return plans


def default_budget() -> float | None:
    """The first CUDA device's total memory in GiB (``None`` without one)."""
    import torch

    return torch.cuda.mem_get_info()[1] / GIB if torch.cuda.is_available() else None


def print_plan(plans: list[ModelPlan], budget_gib: float | None = None) -> None:
    """The plan as a table, against ``budget_gib`` (default: the GPU this runs on, if any)."""
    from tabulate import tabulate

    budget_gib = default_budget() if budget_gib is None else budget_gib
    rows = []
    for p in plans:
        if not p.local:
            rows.append([p.name, p.family, "API", "-", "-", "-", "-", "-", "-", "no GPU", "-"])
            continue
        fits, largest = "-", "-"
        if budget_gib is not None:
            fits = "yes" if p.total_bytes <= budget_gib * GIB else "no"
            largest = f"{p.largest_batch(budget_gib * GIB):,}"
        rows.append([p.name, p.family, f"{p.parameters / 1e9:.2f} B" if p.parameters >= 1e8 else f"{p.parameters:,}",
                     p.dtype, f"{p.weight_bytes / GIB:.2f}", f"{p.prompt_tokens:,}", f"{p.answer_tokens:,} ({p.mode})",
                     f"{p.kv_bytes / GIB:.2f} (batch {p.batch_size})", f"{p.total_bytes / GIB:.2f}", fits, largest])
    budget = f"{budget_gib:g} GiB" if budget_gib is not None else "no budget (--gpu-memory GiB)"
    print(tabulate(rows, headers=["model", "family", "parameters", "dtype", "weights GiB", "prompt tokens",
                                  "answer tokens", "KV cache GiB", "total GiB", f"fits {budget}", "largest batch"],
                   tablefmt="simple"))
    print("weights + KV cache of prompt and answer; activations and the CUDA context are not counted (keep a few GiB "
          "free)")
    shipped = sorted({p.reference for p in plans if p.shipped})
    if shipped:
        print(f"config.json read from the copies shipped with emovit (no network): {', '.join(shipped)}")


__all__ = ["ModelPlan", "image_tokens", "kv_bytes_per_token", "meta_model", "plan_config", "print_plan",
           "shipped_config", "weight_bytes"]
