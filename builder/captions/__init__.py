"""Captioners behind one interface, chosen by a spec string.

=====================  ==========================================================================
spec                   captions from
=====================  ==========================================================================
``attributes``         the image's scene, objects, action and expression (offline default)
``file:<path>``        a JSONL (``{"id", "caption"}``) or CSV (``id,caption``) file
``blip2:<model>``      BLIP-2 (transformers) from a Hub id or a local ``save_pretrained`` folder
=====================  ==========================================================================

Captions are cached per (captioner, content) in ``<cache_dir>/captions.sqlite``: the content is the image's
bytes hash for BLIP-2 and the id for a caption file (whose own hash is part of the captioner key), so a
rerun computes only what is missing and a changed image is captioned again. Attribute captions are cheaper
to compose than to look up and are not cached. Images that cannot get a caption come back in
``CaptionOutcome.missing`` as quarantine entries (stage ``caption``).
"""

from __future__ import annotations

from pathlib import Path

from builder.captions.base import CachingCaptioner, CaptionCache, Captioner, CaptionOutcome
from schemas.errors import UsageError
from schemas.registry import Entry, Registry

#: The captioners by spec; ``:<path>`` / ``:<model>`` marks what a spec names after the colon (given to the class
#: first).
CAPTIONERS = Registry("captioner", {
    "attributes": Entry("builder.captions.attributes:AttributesCaptioner",
                        "composed from scene, objects, action and expression (offline)"),
    "file:<path>": Entry("builder.captions.file:FileCaptioner", "read from a JSONL or CSV file of id/caption"),
    "blip2:<model>": Entry("builder.captions.blip2:Blip2Captioner",
                           "BLIP-2 via transformers (Hub id or local checkpoint)"),
})


class CaptionerSpecError(UsageError, ValueError):
    """A captioner spec that names no known captioner."""


def get_captioner(spec: str, *, cache_dir: str | Path | None = None, **options) -> Captioner:
    """The captioner for ``spec``; ``options`` go to the captioners that take them (BLIP-2: batch_size,
    max_new_tokens, prompt, device)."""
    name, _, argument = spec.strip().partition(":")
    form = next((form for form in CAPTIONERS
                 if form.partition(":")[0] == name and bool(form.partition(":")[2]) == bool(argument)), None)
    if form is None:
        known = "; ".join(f"{form} ({entry.summary})" for form, entry in CAPTIONERS.items())
        raise CaptionerSpecError(f"unknown captioner {spec!r}; known: {known}")
    cls = CAPTIONERS.load(form)
    captioner = cls(*(argument,) if argument else (), cache_dir, **(options if cls.takes_options else {}))
    if options and not cls.takes_options:
        raise CaptionerSpecError(f"captioner {name!r} takes no options (got {', '.join(sorted(options))})")
    return captioner


__all__ = ["CAPTIONERS", "CachingCaptioner", "CaptionCache", "CaptionOutcome", "Captioner", "CaptionerSpecError",
           "get_captioner"]
