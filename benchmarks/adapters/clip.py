"""The CLIP zero-shot adapter: image-text similarity against prompt-ensembled label embeddings
(:data:`emovit_model.scoring.CLIP_PROMPTS`). CLIP ignores the task's instruction; in ``generate`` mode its
answer is its top-ranked label, so both modes give the same predictions."""

from __future__ import annotations

from benchmarks.adapters.base import Adapter

CLIP = Adapter(
    name="clip", description="CLIP zero-shot (image-text similarity)", model_types=("clip",),
    checkpoint="openai/clip-vit-large-patch14", zoo_kind="clip",
)
