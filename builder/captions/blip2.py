"""The ``blip2:<model id or path>`` captioner: BLIP-2 image captioning with transformers.

torch and transformers are imported when the first batch is captioned. On CUDA the model runs in bfloat16
(float16 where bf16 is unsupported), on CPU in float32; under a launcher (``LOCAL_RANK`` set) each process
takes its own GPU. Images that cannot be opened are reported in
``missing`` (code ``unreadable_image``), as are empty generations (``empty_caption``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from builder.captions.base import CachingCaptioner, missing_entry
from builder.sources.records import QuarantineEntry, SourceRecord


def _local_fingerprint(path: Path) -> str:
    """Names, sizes and modification times of a local checkpoint's files (so a rewritten one is not stale)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        info = file.stat()
        digest.update(f"{file.relative_to(path)}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


class Blip2Captioner(CachingCaptioner):
    """BLIP-2 captions (spec ``blip2:<model>``).

    Args:
        model: a Hub id (e.g. ``Salesforce/blip2-opt-2.7b``) or a local ``save_pretrained`` directory.
        cache_dir: caption cache directory (None: no cache).
        batch_size: images per forward pass.
        max_new_tokens: caption length limit.
        prompt: text the caption continues (empty: plain captioning).
        device: ``cuda``/``cpu``/...; default CUDA when available (``cuda:<LOCAL_RANK>`` under a launcher).
    """

    takes_options = True

    def __init__(self, model: str, cache_dir: str | Path | None = None, *, batch_size: int = 16,
                 max_new_tokens: int = 30, prompt: str = "", device: str | None = None):
        super().__init__(cache_dir)
        if not model:
            raise ValueError("blip2 captioner needs a model: 'blip2:<model id or path>'")
        if batch_size < 1 or max_new_tokens < 1:
            raise ValueError("batch_size and max_new_tokens must be >= 1")
        self.model_name = model
        self.name = f"blip2:{model}"
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.device = device
        self._model = None
        self._processor = None

    @property
    def cache_key(self) -> str:
        local = Path(self.model_name)
        where = f"{local.resolve()}#{_local_fingerprint(local)}" if local.is_dir() else self.model_name
        return f"blip2:{where}|prompt={self.prompt!r}|max_new_tokens={self.max_new_tokens}|greedy"

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_model"] = state["_processor"] = None  # reloaded lazily in the receiving process
        return state

    def _load(self) -> None:
        import torch
        import transformers
        from transformers import AutoProcessor, Blip2ForConditionalGeneration

        device = self.device or ("cpu" if not torch.cuda.is_available()
                                 else f"cuda:{os.environ['LOCAL_RANK']}" if "LOCAL_RANK" in os.environ else "cuda")
        if device.startswith("cuda"):
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        self._processor = AutoProcessor.from_pretrained(self.model_name)
        # transformers renamed ``torch_dtype`` to ``dtype`` in 4.56; older releases would silently ignore it.
        major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
        dtype_arg = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        self._model = Blip2ForConditionalGeneration.from_pretrained(self.model_name, **{dtype_arg: dtype})
        self._model = self._model.to(device).eval()
        self._device, self._dtype = device, dtype

    def compute(self, records: Sequence[SourceRecord]) -> tuple[dict[str, str], list[QuarantineEntry]]:
        import torch
        from PIL import Image

        if self._model is None:
            self._load()
        images, kept, missing = [], [], []
        for record in records:
            try:
                with Image.open(record.image_path) as image:
                    images.append(image.convert("RGB"))
                kept.append(record)
            except Exception as exc:  # noqa: BLE001 - PIL raises many types for missing or corrupt files
                missing.append(missing_entry(record, "unreadable_image",
                                             f"{record.image_path}: image cannot be opened for captioning "
                                             f"({type(exc).__name__})"))
        if not kept:
            return {}, missing
        inputs = self._processor(images=images, text=[self.prompt] * len(images), return_tensors="pt")
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self._dtype)
        with torch.inference_mode():
            output = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        prompt_length = inputs["input_ids"].shape[1]
        if output.shape[1] > prompt_length and torch.equal(output[:, :prompt_length].cpu(), inputs["input_ids"].cpu()):
            output = output[:, prompt_length:]
        texts = self._processor.batch_decode(output, skip_special_tokens=True)
        captions = {}
        for record, text in zip(kept, texts):
            caption = " ".join(text.split())
            if caption:
                captions[record.id] = caption
            else:
                missing.append(missing_entry(record, "empty_caption", f"{record.image_path}: BLIP-2 generated an empty caption"))
        return captions, missing
