"""EmoVIT checkpoints without pickle: adapters and merged models, and what names a checkpoint.

Adapter directory (what training publishes; megabytes for a 7B base)::

    adapter.safetensors     the trainable tensors only (Q-Former, query tokens, projection, vision LayerNorm),
                            named as in transformers' InstructBlipForConditionalGeneration
    adapter_config.json     format marker, base model id or path, tensor names, counts, fingerprint
    (processor files)       the base's processor, so the directory describes itself

:func:`merge_adapter` writes base + adapter as a plain ``save_pretrained`` model that
``InstructBlipForConditionalGeneration.from_pretrained`` loads with no EmoVIT code.

Original LAVIS ``.pth`` checkpoints are imported by :mod:`emovit_model.lavis`. :func:`checkpoint_identity` is the
digest a benchmark run records for the checkpoint it scored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from schemas.errors import UsageError

ADAPTER_WEIGHTS = "adapter.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_FORMAT = "emovit-adapter"
ADAPTER_FORMAT_VERSION = 1
#: Files up to this size are hashed by content when identifying a checkpoint (adapters, configs, tiny
#: models); larger weight files by name and size, so a 7B checkpoint is not read just to name it.
HASH_CONTENT_BELOW = 64 * 1024 * 1024


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


# --------------------------------------------------------------------------------------------- identity
def checkpoint_identity(reference: str) -> str:
    """A digest naming what ``reference`` loads: for a local folder its files (content up to
    :data:`HASH_CONTENT_BELOW`, name and size above), plus the base an adapter points at; for a Hub id the id."""
    path = Path(reference).expanduser()
    if not path.exists():
        return f"hub:{reference}"
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}\0{size}\0".encode())
        if size < HASH_CONTENT_BELOW:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    adapter = path / ADAPTER_CONFIG
    if adapter.is_file():
        base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model") or ""
        if base:
            digest.update(checkpoint_identity(resolve_base(path, base)).encode())
    return digest.hexdigest()[:16]
