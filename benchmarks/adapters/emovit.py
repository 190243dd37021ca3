"""``emovit``: InstructBLIP with a trained EmoVIT adapter, or an original LAVIS EmoVIT checkpoint imported first."""

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


EMOVIT = EmoVITAdapter("emovit", "instructblip", trainable=True)
