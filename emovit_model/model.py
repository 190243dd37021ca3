"""Loading EmoVIT (InstructBLIP) and the other benchmarked models (BLIP-2, CLIP, any chat-template
vision-language model such as LLaVA), and the freeze
policies of the models that train: EmoVIT's, and LLaVA's projector-only or LoRA fine-tuning.

EmoVIT fine-tunes InstructBLIP with the vision encoder and the LLM frozen. Trained: the Q-Former, its query
tokens and the Q-Former -> LLM projection; the original code also trained the LayerNorm after the vision
encoder (LAVIS ``ln_vision``, transformers ``vision_model.post_layernorm``), which is on by default here
and can be switched off.

Precision: on a CUDA device with bf16 support the frozen towers are held in bf16 and the trainable modules
in fp32 (they are the optimiser's master weights; compute runs under bf16 autocast). On CPU everything is
fp32. ``query_tokens`` is always fp32.

LLaVA trained on the same instruction data (the benchmark's ``llava-ft``): the vision tower and the LLM are
frozen; ``tuning="projector"`` trains the multi-modal projector only (LLaVA's first stage), ``tuning="lora"``
(the default for LLaVA) also adds LoRA matrices (``peft``) to the LLM's attention projections, the cheap form
of LLaVA-1.5's fine-tuning stage that trains projector and LLM. An adapter directory records the LoRA
settings, so :func:`load_model` injects the same LoRA layers before loading its weights.

Typical use::

    from emovit_model.model import load_model
    model, processor = load_model("path/to/tiny-instructblip")          # any zoo or Hub checkpoint
    model, processor = load_model("runs/emovit/adapter")                # an EmoVIT adapter on its base

    from emovit_model.model import load_emovit
    model, processor = load_emovit("Salesforce/instructblip-vicuna-7b")  # frozen per EmoVIT, for training
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emovit_model.checkpoint import ADAPTER_CONFIG
from schemas.errors import UsageError

#: Parameter-name prefixes EmoVIT trains (everything else is frozen).
TRAINABLE_PREFIXES: tuple[str, ...] = ("qformer.", "query_tokens", "language_projection.")
#: The optional extra: the LayerNorm after the vision encoder (LAVIS ``ln_vision``).
VISION_LAYERNORM_PREFIX = "vision_model.post_layernorm."
#: Substring naming LLaVA's multi-modal projector parameters (``model.multi_modal_projector.*``).
LLAVA_PROJECTOR = "multi_modal_projector."
#: LLM modules that get LoRA matrices by default (Llama/Vicuna attention projections).
LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


def resolve_device(device: str | None = "auto"):
    """``"auto"`` -> CUDA when available, else CPU; anything else is passed to :class:`torch.device`."""
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype, device):
    """``"auto"`` -> bf16 on a CUDA device that supports it, fp32 otherwise; names like ``"float16"`` too."""
    import torch

    if dtype in (None, "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
    name = aliases.get(str(dtype), str(dtype))
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise UsageError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return value


def is_trainable_name(name: str, *, train_vision_layernorm: bool = True) -> bool:
    """Whether EmoVIT's policy trains the parameter called ``name``."""
    if name.startswith(TRAINABLE_PREFIXES):
        return True
    return train_vision_layernorm and name.startswith(VISION_LAYERNORM_PREFIX)


def apply_freeze_policy(model, *, train_vision_layernorm: bool = True, master_dtype=None) -> list[str]:
    """Freeze everything but EmoVIT's trainable modules; returns the names of the trainable parameters.

    ``master_dtype`` (e.g. ``torch.float32``) re-casts the trainable parameters, so a model loaded in bf16
    keeps full-precision weights where the optimiser writes.
    """
    if getattr(model.config, "model_type", None) != "instructblip":
        raise UsageError(f"EmoVIT's freeze policy needs an InstructBLIP model, got {model.config.model_type!r}")
    trainable = []
    for name, param in model.named_parameters():
        keep = is_trainable_name(name, train_vision_layernorm=train_vision_layernorm)
        param.requires_grad_(keep)
        if keep:
            trainable.append(name)
            if master_dtype is not None and param.dtype != master_dtype:
                param.data = param.data.to(master_dtype)
    if not trainable:
        raise UsageError("the freeze policy found no Q-Former / query-token / projection parameters to train")
    return trainable


@dataclass(frozen=True)
class ParameterRow:
    """Parameter counts of one top-level module."""

    module: str
    trainable: int
    frozen: int
    dtypes: str


def parameter_rows(model) -> list[ParameterRow]:
    """Trainable and frozen parameter counts per top-level module (``vision_model.post_layernorm`` apart)."""
    counts: dict[str, list] = {}
    for name, param in model.named_parameters():
        module = name.split(".", 1)[0]
        if name.startswith(VISION_LAYERNORM_PREFIX):
            module = VISION_LAYERNORM_PREFIX.rstrip(".")
        row = counts.setdefault(module, [0, 0, set()])
        row[0 if param.requires_grad else 1] += param.numel()
        row[2].add(str(param.dtype).replace("torch.", ""))
    return [ParameterRow(m, t, f, ",".join(sorted(d))) for m, (t, f, d) in counts.items()]


def parameter_table(model) -> str:
    """A plain-text table of trainable vs frozen parameters per module, with a total line."""
    from tabulate import tabulate

    rows = parameter_rows(model)
    trainable, frozen = sum(r.trainable for r in rows), sum(r.frozen for r in rows)
    body = [[r.module, f"{r.trainable:,}", f"{r.frozen:,}", r.dtypes] for r in rows]
    share = 100.0 * trainable / max(trainable + frozen, 1)
    body.append(["total", f"{trainable:,}", f"{frozen:,}", f"{share:.2f}% trainable"])
    return tabulate(body, headers=["module", "trainable", "frozen", "dtype"], tablefmt="simple",
                    colalign=("left", "right", "right", "left"))


def model_class(config):
    """The transformers class a model config loads with: its family's (:mod:`emovit_model.families`), e.g.
    ``InstructBlipForConditionalGeneration``, ``CLIPModel``, or ``AutoModelForImageTextToText`` for any
    chat-template vision-language model."""
    import transformers

    from emovit_model.families import FAMILIES, family_name

    name = family_name(config)
    if FAMILIES[name].model_class is None:
        raise UsageError(f"model type {config.model_type!r} is not a checkpoint to load (family {name})")
    return getattr(transformers, FAMILIES[name].model_class)


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def looks_like_local_path(reference: str | Path) -> bool:
    """True for references that can only be a folder (absolute, ``./``, ``~``, or deeper than ``org/name``)."""
    text = str(reference)
    return isinstance(reference, Path) or text.startswith(("/", ".", "~")) or text.count("/") > 1 \
        or os.sep != "/" and os.sep in text


def _read_config(base: str | Path, **kwargs):
    """``(reference, config)``: a local folder (which must exist) or a Hub id, and its model config; a
    missing folder or an unreadable config is one :class:`UsageError`."""
    from transformers import AutoConfig

    if looks_like_local_path(base):
        if not Path(base).expanduser().exists():
            raise UsageError(f"{base}: model path does not exist (give a checkpoint folder or a Hub id like "
                             "Salesforce/instructblip-vicuna-7b)")
        base = Path(base).expanduser()
    try:
        return base, AutoConfig.from_pretrained(str(base), **kwargs)
    except (OSError, ValueError) as exc:
        text = " ".join(str(exc).split())
        if "does not recognize this architecture" in text:
            import re

            import transformers

            named = re.search(r"model type `([^`]*)`", text)
            raise UsageError(f"{base}: model type {named.group(1) if named else '?'!r} is unknown to the installed "
                             f"transformers {transformers.__version__}; a newer release may know it: "
                             "pip install -U transformers") from None
        raise UsageError(f"cannot load a model config from {base}: {text}") from None


def read_model_config(reference: str | Path, **kwargs):
    """The model config of a checkpoint folder or Hub id (no weights); one :class:`UsageError` when unreadable."""
    return _read_config(reference, **kwargs)[1]


def _load_base(base: str | Path, device, dtype, **kwargs):
    from emovit_model.processors import explain_load_error, load_processor

    base, config = _read_config(base, **kwargs)
    cls = model_class(config)
    try:  # the processor first: it is where a missing library or file shows up, before any weights are read
        processor = load_processor(base, config, **kwargs)
    except (ImportError, OSError, ValueError, TypeError) as exc:
        raise explain_load_error(base, config, exc) from None
    # straight onto a GPU (no full copy in host memory); on CPU no device map, so Trainer/accelerate may move it
    placement = {"device_map": {"": device}} if device.type == "cuda" else {}
    try:
        model = cls.from_pretrained(str(base), dtype=dtype, **placement, **kwargs)
    except (ImportError, OSError) as exc:
        raise explain_load_error(base, config, exc) from None
    return model, processor


def load_model(path: str | Path, *, device="auto", dtype="auto", base: str | Path | None = None, **kwargs):
    """``(model, processor)`` for inference from a checkpoint directory, a Hub id or an EmoVIT adapter.

    An adapter directory (holding ``adapter_config.json``) is loaded onto its base model, which is read from
    the adapter's config unless ``base`` is given. The model is returned in eval mode with gradients off.
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    if is_adapter_dir(path):
        from emovit_model.checkpoint import load_adapter, read_adapter_config, resolve_base

        adapter_config = read_adapter_config(path)
        base = base or resolve_base(path, adapter_config["base_model"])
        model, processor = _load_base(base, device, dtype, **kwargs)
        if adapter_config.get("lora"):
            inject_lora(model, adapter_config["lora"])
        load_adapter(model, path)
    else:
        model, processor = _load_base(path, device, dtype, **kwargs)
    model.eval().requires_grad_(False)
    return model, processor


def load_emovit(base: str | Path, *, adapter: str | Path | None = None, device="auto", dtype="auto",
                train_vision_layernorm: bool = True, verbose: bool = True, **kwargs):
    """InstructBLIP ready for EmoVIT training: frozen per the policy, trainable parts in fp32.

    ``adapter`` (an EmoVIT adapter directory) initialises the trainable modules. With ``verbose`` the
    parameter table is printed.
    """
    import torch

    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    model, processor = _load_base(base, device, dtype, **kwargs)
    if model.config.model_type != "instructblip":
        raise UsageError(f"{base}: EmoVIT trains an InstructBLIP model, this is {model.config.model_type!r}")
    apply_freeze_policy(model, train_vision_layernorm=train_vision_layernorm, master_dtype=torch.float32)
    if adapter is not None:
        from emovit_model.checkpoint import load_adapter

        load_adapter(model, adapter)
    if verbose:
        print(parameter_table(model))
    return model, processor


def model_summary(model) -> dict:
    """Counts and dtypes as a JSON-ready dict (saved in run configs)."""
    rows = parameter_rows(model)
    return {
        "model_type": model.config.model_type,
        "trainable": sum(r.trainable for r in rows),
        "frozen": sum(r.frozen for r in rows),
        "modules": {r.module: {"trainable": r.trainable, "frozen": r.frozen, "dtype": r.dtypes} for r in rows},
    }


# --------------------------------------------------------------------------------------------- LLaVA tuning
@dataclass(frozen=True)
class LoraSettings:
    """LoRA on the LLM of a LLaVA model (saved in the adapter config as ``lora``)."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = LORA_TARGETS

    def as_dict(self) -> dict:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "targets": list(self.targets)}


def lora_target_pattern(targets) -> str:
    """The ``peft`` ``target_modules`` regex: the named projections inside the language model only (the CLIP
    vision tower has ``q_proj``/``k_proj``/``v_proj`` layers too, and stays untouched)."""
    import re

    names = "|".join(re.escape(t) for t in targets)
    return rf".*language_model\..*\.({names})"


def inject_lora(model, settings) -> list[str]:
    """Add LoRA layers (``peft.inject_adapter_in_model``, in place) to the LLM; returns their parameter names.

    ``settings`` is a :class:`LoraSettings` or its ``as_dict()`` form (as stored in an adapter config). The
    model keeps its class, so generation and scoring work unchanged.
    """
    from peft import LoraConfig, inject_adapter_in_model

    if isinstance(settings, dict):
        settings = LoraSettings(r=int(settings["r"]), alpha=int(settings["alpha"]),
                                dropout=float(settings.get("dropout", 0.0)),
                                targets=tuple(settings.get("targets", LORA_TARGETS)))
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=lora_target_pattern(settings.targets), bias="none")
    inject_adapter_in_model(config, model)
    names = [name for name, _ in model.named_parameters() if ".lora_" in name]
    if not names:
        raise UsageError(f"LoRA found no {', '.join(settings.targets)} modules in the language model")
    return names


def apply_llava_policy(model, *, tuning: str = "lora", lora: LoraSettings | None = None,
                       master_dtype=None) -> list[str]:
    """Freeze a LLaVA model except its projector (and, with ``tuning="lora"``, LoRA layers added to the LLM);
    returns the trainable parameter names. ``master_dtype`` re-casts what trains (fp32 master weights)."""
    if getattr(model.config, "model_type", None) != "llava":
        raise UsageError(f"projector/LoRA tuning needs a LLaVA model, got {model.config.model_type!r}")
    from emovit_model.families import FAMILIES

    tunings = FAMILIES["llava"].tunings
    if tuning not in tunings:
        raise UsageError(f"LLaVA tuning must be one of {', '.join(tunings)}, got {tuning!r}")
    model.requires_grad_(False)
    if tuning == "lora":
        inject_lora(model, lora or LoraSettings())  # marks only the LoRA matrices trainable
    trainable = []
    for name, param in model.named_parameters():
        keep = LLAVA_PROJECTOR in name or ".lora_" in name
        param.requires_grad_(keep)
        if keep:
            trainable.append(name)
            if master_dtype is not None and param.dtype != master_dtype:
                param.data = param.data.to(master_dtype)
    if not any(LLAVA_PROJECTOR in name for name in trainable):
        raise UsageError("the LLaVA policy found no multi_modal_projector parameters to train")
    return trainable


def resolve_tuning(model_type: str, tuning: str = "auto") -> str:
    """The tuning a model type trains with: one of its family's tunings (:mod:`emovit_model.families`); ``auto`` is
    the first (EmoVIT's Q-Former policy for InstructBLIP, LoRA for LLaVA)."""
    from emovit_model.families import family_of_type

    family = family_of_type(model_type)
    tunings = family.tunings if family is not None else ()
    if not tunings:
        raise UsageError(f"training supports InstructBLIP (EmoVIT) and LLaVA bases, not {model_type!r}")
    if tuning == "auto":
        return tunings[0]
    if tuning not in tunings:
        raise UsageError(f"a {model_type} base trains with tuning {' or '.join(tunings)}, not {tuning!r}")
    return tuning


def load_for_training(base: str | Path, *, tuning: str = "auto", lora: LoraSettings | None = None,
                      device="auto", dtype="auto", train_vision_layernorm: bool = True, verbose: bool = True,
                      **kwargs):
    """``(model, processor, tuning)`` ready to train: EmoVIT's policy for an InstructBLIP base, projector or
    LoRA tuning for a LLaVA base; frozen towers in ``dtype``, trainable weights in fp32."""
    import torch

    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    base, config = _read_config(base, **kwargs)
    model_type = config.model_type
    tuning = resolve_tuning(model_type, tuning)
    if tuning == "qformer":  # EmoVIT's freeze policy; the others are LLaVA's
        model, processor = load_emovit(base, device=device, dtype=dtype, verbose=verbose,
                                       train_vision_layernorm=train_vision_layernorm, **kwargs)
        return model, processor, tuning
    model, processor = _load_base(base, device, dtype, **kwargs)
    apply_llava_policy(model, tuning=tuning, lora=lora, master_dtype=torch.float32)
    if verbose:
        print(parameter_table(model))
    return model, processor, tuning
