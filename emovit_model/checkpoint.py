"""EmoVIT checkpoints without pickle: adapters, merged models and LAVIS imports.

Adapter directory (what training publishes; megabytes for a 7B base)::

    adapter.safetensors     the trainable tensors only (Q-Former, query tokens, projection, vision LayerNorm),
                            named as in transformers' InstructBlipForConditionalGeneration
    adapter_config.json     format marker, base model id or path, tensor names, counts, fingerprint
    (processor files)       the base's processor, so the directory describes itself

:func:`merge_adapter` writes base + adapter as a plain ``save_pretrained`` model that
``InstructBlipForConditionalGeneration.from_pretrained`` loads with no EmoVIT code.

:func:`import_lavis` reads an original LAVIS/EmoVIT ``.pth`` state dict with ``torch.load(weights_only=True)``
(no arbitrary code runs) and maps its names (``Qformer.bert.*``, ``query_tokens``, ``llm_proj.*``,
``ln_vision.*``, and for full checkpoints ``visual_encoder.*`` / ``llm_model.*``) to transformers' layout.
Names it cannot place are listed in the error.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import UsageError

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FORMAT = "emovit-adapter"
ADAPTER_FORMAT_VERSION = 1


class CheckpointError(UsageError):
    """A checkpoint that does not fit the model (missing files, unknown or unmapped tensors, wrong shapes)."""


# --------------------------------------------------------------------------------------------- adapters
def trainable_state(model) -> dict:
    """The trainable tensors of ``model`` (detached, contiguous, on CPU)."""
    return {name: p.detach().to("cpu").contiguous() for name, p in model.named_parameters() if p.requires_grad}


def _base_reference(model, base, out: Path) -> str:
    """How an adapter in ``out`` names its base: a Hub id as given, a local folder relative to ``out``.

    A relative reference keeps local paths out of a published ``adapter_config.json`` and still works when
    the run folder and the base move together.
    """
    ref = str(base) if base is not None else str(getattr(model.config, "_name_or_path", "") or "")
    if ref and Path(ref).exists():
        ref = os.path.relpath(Path(ref).resolve(), out.resolve())
    return ref


def resolve_base(adapter: str | Path, reference: str) -> str:
    """The base an adapter names, as a loadable path or Hub id (relative references are from the adapter)."""
    if reference and not Path(reference).is_absolute() and (Path(adapter) / reference).exists():
        return str((Path(adapter) / reference).resolve())
    return reference


def save_adapter(model, out: str | Path, *, base: str | Path | None = None, processor=None,
                 state: dict | None = None, extra: dict | None = None) -> Path:
    """Write the trainable weights of ``model`` (or ``state``) as an adapter directory; returns ``out``.

    ``base`` names the base checkpoint (default: the path ``model`` was loaded from).
    """
    from safetensors.torch import save_file

    from schemas.runinfo import fingerprint, write_json

    state = trainable_state(model) if state is None else {k: v.detach().to("cpu").contiguous()
                                                          for k, v in state.items()}
    if not state:
        raise CheckpointError("nothing to save: the model has no trainable parameters")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / ADAPTER_WEIGHTS), metadata={"format": "pt", "emovit": ADAPTER_FORMAT})
    names = sorted(state)
    config = {
        "format": ADAPTER_FORMAT,
        "format_version": ADAPTER_FORMAT_VERSION,
        "base_model": _base_reference(model, base, out),
        "model_type": model.config.model_type,
        "tensors": names,
        "num_parameters": int(sum(state[n].numel() for n in names)),
        "dtypes": sorted({str(t.dtype).replace("torch.", "") for t in state.values()}),
        "train_vision_layernorm": any(n.startswith("vision_model.post_layernorm.") for n in names),
        "num_query_tokens": int(getattr(model.config, "num_query_tokens", 0) or 0),
        **(extra or {}),
    }
    config["fingerprint"] = fingerprint({k: v for k, v in config.items() if k != "base_model"})
    write_json(out / ADAPTER_CONFIG, config)
    if processor is not None:
        processor.save_pretrained(str(out))
    return out


def read_adapter_config(path: str | Path) -> dict:
    """The ``adapter_config.json`` of an adapter directory (validated)."""
    path = Path(path)
    config_path = path / ADAPTER_CONFIG
    if not config_path.is_file():
        raise CheckpointError(f"{path}: not an EmoVIT adapter directory (no {ADAPTER_CONFIG})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: unreadable adapter config: {exc}") from None
    if config.get("format") != ADAPTER_FORMAT:
        raise CheckpointError(f"{config_path}: 'format' is {config.get('format')!r}, expected {ADAPTER_FORMAT!r}")
    if not (path / ADAPTER_WEIGHTS).is_file():
        raise CheckpointError(f"{path}: adapter config present but {ADAPTER_WEIGHTS} is missing")
    return config


def copy_into(model, state: dict, *, source: str) -> list[str]:
    """Copy ``state`` tensors into ``model``'s parameters/buffers of the same names (cast to their dtype).

    Raises :class:`CheckpointError` listing names the model lacks and shape mismatches; returns the names.
    """
    import torch

    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    unknown = sorted(set(state) - set(targets))
    if unknown:
        raise CheckpointError(f"{source}: {len(unknown)} tensor(s) not in the model: {', '.join(unknown)}")
    wrong = [f"{n} {tuple(state[n].shape)} vs model {tuple(targets[n].shape)}"
             for n in sorted(state) if tuple(state[n].shape) != tuple(targets[n].shape)]
    if wrong:
        raise CheckpointError(f"{source}: shape mismatch: {'; '.join(wrong)}")
    with torch.no_grad():
        for name, tensor in state.items():
            target = targets[name]
            target.copy_(tensor.to(device=target.device, dtype=target.dtype))
    return sorted(state)


def load_adapter(model, path: str | Path) -> list[str]:
    """Load an adapter directory's tensors into ``model`` (an InstructBLIP); returns the names loaded."""
    from safetensors.torch import load_file

    path = Path(path)
    config = read_adapter_config(path)
    if config.get("model_type") not in (None, model.config.model_type):
        raise CheckpointError(f"{path}: adapter is for {config['model_type']!r}, model is {model.config.model_type!r}")
    state = load_file(str(path / ADAPTER_WEIGHTS))
    return copy_into(model, state, source=str(path / ADAPTER_WEIGHTS))


def merge_adapter(adapter: str | Path, out: str | Path, *, base: str | Path | None = None, dtype="auto") -> Path:
    """Write base + adapter as a full ``save_pretrained`` model (safetensors) with its processor into ``out``.

    ``dtype="auto"`` keeps the base checkpoint's stored precision.
    """
    from transformers import AutoProcessor, InstructBlipForConditionalGeneration

    config = read_adapter_config(adapter)
    base = base or resolve_base(adapter, config["base_model"])
    if not base:
        raise CheckpointError(f"{adapter}: adapter config names no base model; pass base=")
    model = InstructBlipForConditionalGeneration.from_pretrained(str(base), dtype=dtype)
    load_adapter(model, adapter)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    source = adapter if (Path(adapter) / "processor_config.json").is_file() else base
    AutoProcessor.from_pretrained(str(source)).save_pretrained(str(out))
    return out


# --------------------------------------------------------------------------------------------- LAVIS
#: LAVIS tensors transformers' InstructBLIP has no place for, with the reason (reported, not an error).
LAVIS_IGNORED: tuple[tuple[str, str], ...] = (
    (r"(^|\.)position_ids$", "index buffer, rebuilt by transformers"),
    (r"rotary_emb\.inv_freq$", "rotary buffer, rebuilt by transformers"),
    (r"^Qformer\.cls\.", "Q-Former LM head (BLIP-2 pre-training only)"),
    (r"^(vision_proj|text_proj|itm_head)\.", "BLIP-2 pre-training head"),
    (r"^temp$", "BLIP-2 contrastive temperature"),
)

_VISION_BLOCK = {
    "norm1": "layer_norm1", "norm2": "layer_norm2", "attn.qkv": "self_attn.qkv", "attn.proj": "self_attn.projection",
    "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
}


def lavis_to_transformers_name(key: str) -> str | None:
    """The transformers name of a LAVIS InstructBLIP tensor, or ``None`` when no rule applies.

    ``visual_encoder.blocks.N.attn.{q,v}_bias`` are merged by :func:`convert_lavis_state` instead.
    """
    if key == "query_tokens":
        return key
    if key.startswith("Qformer.bert."):
        rest = key[len("Qformer.bert."):]
        rest = rest.replace("embeddings.LayerNorm.", "embeddings.layernorm.")
        rest = re.sub(r"\.(attention|crossattention)\.self\.", r".\1.attention.", rest)
        return "qformer." + rest
    for prefix in ("llm_proj.", "t5_proj."):
        if key.startswith(prefix):
            return "language_projection." + key[len(prefix):]
    if key.startswith("ln_vision."):
        return "vision_model.post_layernorm." + key[len("ln_vision."):]
    if key.startswith("llm_model."):
        return "language_model." + key[len("llm_model."):]
    if key.startswith("t5_model."):
        return "language_model." + key[len("t5_model."):]
    vision = {
        "visual_encoder.cls_token": "vision_model.embeddings.class_embedding",
        "visual_encoder.pos_embed": "vision_model.embeddings.position_embedding",
        "visual_encoder.patch_embed.proj.weight": "vision_model.embeddings.patch_embedding.weight",
        "visual_encoder.patch_embed.proj.bias": "vision_model.embeddings.patch_embedding.bias",
    }
    if key in vision:
        return vision[key]
    match = re.match(r"^visual_encoder\.blocks\.(\d+)\.(.+)\.(weight|bias)$", key)
    if match and match.group(2) in _VISION_BLOCK:
        return f"vision_model.encoder.layers.{match.group(1)}.{_VISION_BLOCK[match.group(2)]}.{match.group(3)}"
    return None


@dataclass
class LavisImport:
    """What :func:`import_lavis` did: mapped names (LAVIS -> transformers), ignored tensors and what is left."""

    mapped: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    not_covered: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"mapped {len(self.mapped)} tensor(s), ignored {len(self.ignored)}; "
                f"{len(self.not_covered)} trainable tensor(s) kept from the base")


def read_lavis_checkpoint(path: str | Path) -> dict:
    """A LAVIS ``.pth`` as a flat name -> tensor dict (``{"model": ...}`` unwrapped), read without pickle code."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: LAVIS checkpoint not found")
    try:
        blob = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError ...
        raise CheckpointError(f"{path}: not loadable with torch.load(weights_only=True): {exc}") from None
    return unwrap_state_dict(blob, source=str(path))


def unwrap_state_dict(blob, *, source: str = "checkpoint") -> dict:
    import torch

    if isinstance(blob, dict) and isinstance(blob.get("model"), dict):
        blob = blob["model"]
    elif isinstance(blob, dict) and isinstance(blob.get("state_dict"), dict):
        blob = blob["state_dict"]
    if not isinstance(blob, dict) or not all(isinstance(v, torch.Tensor) for v in blob.values()):
        raise CheckpointError(f"{source}: expected a state dict of tensors (optionally under 'model')")
    return {str(k).removeprefix("module."): v for k, v in blob.items()}


def convert_lavis_state(state: dict) -> tuple[dict, LavisImport, list[str]]:
    """Rename a LAVIS state dict to transformers names; returns ``(converted, report, unmapped_keys)``."""
    import torch

    report = LavisImport()
    converted: dict = {}
    unmapped: list[str] = []
    biases: dict[str, dict[str, torch.Tensor]] = {}
    for key in sorted(state):
        reason = next((why for pattern, why in LAVIS_IGNORED if re.search(pattern, key)), None)
        if reason is not None:
            report.ignored[key] = reason
            continue
        bias = re.match(r"^visual_encoder\.blocks\.(\d+)\.attn\.(q|v)_bias$", key)
        if bias:
            biases.setdefault(bias.group(1), {})[bias.group(2)] = state[key]
            continue
        name = lavis_to_transformers_name(key)
        if name is None:
            unmapped.append(key)
            continue
        converted[name] = state[key]
        report.mapped[key] = name
    for block, parts in sorted(biases.items()):
        if set(parts) != {"q", "v"}:
            unmapped.extend(f"visual_encoder.blocks.{block}.attn.{p}_bias" for p in parts)
            continue
        # EVA-ViT has q and v biases only; transformers' fused qkv bias takes zeros for k
        name = f"vision_model.encoder.layers.{block}.self_attn.qkv.bias"
        converted[name] = torch.cat([parts["q"], torch.zeros_like(parts["v"]), parts["v"]])
        for p in ("q", "v"):
            report.mapped[f"visual_encoder.blocks.{block}.attn.{p}_bias"] = name
    return converted, report, unmapped


def import_lavis(model, source, *, strict: bool = True) -> LavisImport:
    """Load an original LAVIS/EmoVIT checkpoint (path to ``.pth`` or a state dict) into ``model``.

    Raises :class:`CheckpointError` listing every LAVIS name without a transformers counterpart (unless
    ``strict=False``, which skips them) and every mapped name the model does not have or whose shape differs.
    """
    if isinstance(source, (str, Path)):
        label, state = str(source), read_lavis_checkpoint(source)
    else:
        label, state = "state dict", unwrap_state_dict(source)
    converted, report, unmapped = convert_lavis_state(state)
    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    missing_target = sorted(k for k, name in report.mapped.items() if name not in targets)
    problems = unmapped + missing_target
    if problems and strict:
        raise CheckpointError(f"{label}: {len(problems)} LAVIS key(s) have no place in "
                              f"{type(model).__name__}: {', '.join(problems)}")
    if not strict:
        converted = {k: v for k, v in converted.items() if k in targets}
    if not converted:
        raise CheckpointError(f"{label}: no tensor could be mapped onto the model")
    copy_into(model, converted, source=label)
    loaded = set(converted)
    report.not_covered = sorted(n for n, p in model.named_parameters() if p.requires_grad and n not in loaded)
    return report


def convert_lavis_checkpoint(pth: str | Path, base: str | Path, out: str | Path, *,
                             train_vision_layernorm: bool = True) -> Path:
    """Import a LAVIS ``.pth`` onto ``base`` and save the trainable part as an adapter directory in ``out``."""
    from emovit_model.model import load_emovit

    model, processor = load_emovit(base, device="cpu", dtype="float32",
                                   train_vision_layernorm=train_vision_layernorm, verbose=False)
    report = import_lavis(model, pth)
    return save_adapter(model, out, base=base, processor=processor,
                        extra={"imported_from": str(pth), "import_summary": report.summary()})
