"""InstructBLIP-family adapters: ``emovit`` (InstructBLIP + a trained EmoVIT adapter), ``instructblip`` and
``blip2`` (zero-shot)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.adapters.base import Adapter
from schemas.errors import UsageError


@dataclass(frozen=True)
class EmoVITAdapter(Adapter):
    """EmoVIT: an adapter directory written by ``emovit train`` (or the harness), a merged checkpoint, or an
    original LAVIS EmoVIT ``.pth`` (model entry ``lavis: FILE.pth`` with ``base:``), imported once into an
    adapter with :func:`emovit_model.lavis.convert_lavis_checkpoint`."""

    def prepare(self, entry: dict, workdir: Path) -> str | None:
        lavis = entry.get("lavis")
        if not lavis:
            return entry.get("path")
        from emovit_model.lavis import convert_lavis_checkpoint

        base = entry.get("base") or self.checkpoint
        out = workdir / "lavis-adapter"
        if not (out / "adapter_config.json").is_file():
            if not Path(lavis).is_file():
                raise UsageError(f"model {entry['name']}: LAVIS checkpoint {lavis} not found")
            convert_lavis_checkpoint(lavis, base, out)
        return str(out)


EMOVIT = EmoVITAdapter(
    name="emovit", description="InstructBLIP + trained EmoVIT Q-Former adapter",
    model_types=("instructblip",), checkpoint="Salesforce/instructblip-vicuna-7b", zoo_kind="instructblip",
    trainable=True, train_defaults={"tuning": "qformer"},
)
INSTRUCTBLIP = Adapter(
    name="instructblip", description="InstructBLIP, zero-shot", model_types=("instructblip",),
    checkpoint="Salesforce/instructblip-vicuna-7b", zoo_kind="instructblip",
)
BLIP2 = Adapter(
    name="blip2", description="BLIP-2, zero-shot", model_types=("blip-2",),
    checkpoint="Salesforce/blip2-opt-2.7b", zoo_kind="blip2",
)
