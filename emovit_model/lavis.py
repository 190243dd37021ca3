"""Original LAVIS/EmoVIT checkpoints onto transformers' InstructBLIP.

:func:`import_lavis` reads an original LAVIS/EmoVIT ``.pth`` state dict with ``torch.load(weights_only=True)``
(no arbitrary code runs) and maps its names (``Qformer.bert.*``, ``query_tokens``, ``llm_proj.*``,
``ln_vision.*``, and for full checkpoints ``visual_encoder.*`` / ``llm_model.*``) to transformers' layout.
Names it cannot place are listed in the error. :func:`convert_lavis_checkpoint` saves the result as an
adapter directory (:mod:`emovit_model.checkpoint`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from emovit_model.checkpoint import CheckpointError, copy_into, save_adapter

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
