"""Loading a checkpoint's processor on any machine, with or without ``torchvision``.

transformers 5 builds the processors of the video-capable families (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, InternVL,
LLaVA-OneVision ...) with a video processor, and every video processor needs ``torchvision``. Where
``torchvision`` cannot be imported (a laptop, a CI runner, a CUDA box whose ``torchvision`` does not match its
``torch``), ``AutoProcessor`` fails for them, although images never touch the video half: the image processor
has a PIL backend (``Qwen2VLImageProcessorPil`` ...) that transformers picks by itself.

:func:`load_processor` therefore loads

* the checkpoint's own processor through ``AutoProcessor`` when ``torchvision`` imports, or when the processor
  has no video half (LLaVA, Gemma 3, Idefics3 ...);
* otherwise the same processor class without its video half (:func:`image_only`): a subclass whose only parts
  are the image processor and the tokenizer. It expands the image placeholders and returns ``input_ids``,
  ``attention_mask``, ``mm_token_type_ids``, ``pixel_values`` and ``image_grid_thw`` exactly as the full
  processor does (the full one's image path never reaches its video processor). Video is not part of this
  project.

A processor without a chat template of its own takes the tokenizer's (older Hub folders keep it in
``tokenizer_config.json``). Anything that still cannot be loaded is one :class:`~schemas.errors.UsageError` line
naming the checkpoint, what is missing and how to get it (:func:`explain_load_error`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from schemas.errors import UsageError

#: Files a Hub checkpoint keeps its processor in (any one of them is enough to find its class).
PROCESSOR_FILES: tuple[str, ...] = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")


@functools.lru_cache(maxsize=1)
def has_torchvision() -> bool:
    """Whether ``torchvision`` can be imported here (installed and built for this ``torch``: a mismatched build
    fails at import, e.g. ``operator torchvision::nms does not exist``)."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure to import means the video processors cannot run
        return False
    return True


def processor_class_name(reference: str | Path, config) -> str | None:
    """The processor class a checkpoint names (``processor_class`` in its processor files), else the one
    transformers maps its ``model_type`` to."""
    folder = Path(reference)
    if folder.is_dir():
        for name in PROCESSOR_FILES:
            try:
                named = json.loads((folder / name).read_text(encoding="utf-8")).get("processor_class")
            except (OSError, ValueError, AttributeError):
                continue
            if named:
                return named
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    return PROCESSOR_MAPPING_NAMES.get(getattr(config, "model_type", None))


def needs_video_processor(cls) -> bool:
    """Whether processor class ``cls`` is built with a video processor (and so needs ``torchvision``)."""
    return "video_processor" in cls.get_attributes()


@functools.cache
def image_only(cls):
    """``cls`` without its video half: a subclass whose parts are the image processor and the tokenizer only.

    transformers 5 reads a processor's parts from its ``__init__`` signature and the settings it accepts from
    saved files (``image_seq_length``, ``num_image_tokens`` ...) from that function's argument names, so the
    subclass's ``__init__`` has ``cls.__init__``'s own arguments, in order, less ``video_processor``; it hands
    ``None`` for the video processor to ``cls.__init__``, which sets the image and video token names and ids as
    usual."""
    import inspect

    kept = [p for name, p in inspect.signature(cls.__init__).parameters.items()
            if name not in ("self", "video_processor") and p.kind is p.POSITIONAL_OR_KEYWORD]
    defaults = {p.name: (None if p.default is p.empty else p.default) for p in kept}
    arguments = ", ".join(f"{p.name}=_defaults[{p.name!r}]" for p in kept)
    passed = ", ".join(f"{p.name}={p.name}" for p in kept)
    namespace = {"_defaults": defaults, "_parent": cls.__init__}
    # a function with exactly these argument names (transformers reads them off its code object)
    exec(f"def __init__(self, {arguments}, **kwargs):\n"  # noqa: S102 - built from the class's own signature
         f"    _parent(self, video_processor=None, {passed}, **kwargs)\n", namespace)
    return type(f"{cls.__name__}ImageOnly", (cls,), {
        "__init__": namespace["__init__"], "__module__": __name__,
        "_get_arguments_from_pretrained": classmethod(_image_and_tokenizer),
        "__doc__": f"{cls.__name__} with its image processor and tokenizer only (no video)."})


def _image_and_tokenizer(cls, reference, processor_dict=None, **kwargs) -> list:
    """The two parts of an image-only processor, as saved with ``reference``: the image processor on its PIL
    backend (transformers would pick the torchvision one wherever the package is installed, even where it does
    not import) and the tokenizer."""
    from transformers import AutoImageProcessor, AutoTokenizer

    return [AutoImageProcessor.from_pretrained(reference, backend="pil", **kwargs),
            AutoTokenizer.from_pretrained(reference, **kwargs)]


def load_processor(reference: str | Path, config, **kwargs):
    """The processor of checkpoint ``reference`` (a folder or Hub id) whose model config is ``config``: the
    checkpoint's own, or without its video half where ``torchvision`` is missing (see the module docstring)."""
    import transformers
    from transformers import AutoProcessor

    name = processor_class_name(reference, config)
    cls = getattr(transformers, name, None) if name else None
    if cls is not None and needs_video_processor(cls) and not has_torchvision():
        processor = image_only(cls).from_pretrained(str(reference), **kwargs)
    else:
        processor = AutoProcessor.from_pretrained(str(reference), **kwargs)
    tokenizer = getattr(processor, "tokenizer", None)
    if getattr(processor, "chat_template", None) is None and getattr(tokenizer, "chat_template", None):
        processor.chat_template = tokenizer.chat_template
    return processor


def explain_load_error(reference: str | Path, config, exc: BaseException) -> UsageError:
    """One line for a checkpoint that cannot be loaded: which model, what is missing, how to get it."""
    text = " ".join(str(exc).split())
    model_type = getattr(config, "model_type", None) or "?"
    lowered = text.lower()
    for library, install in (("torchvision", "pip install torchvision (the build matching your torch)"),
                             ("timm", "pip install timm"), ("einops", "pip install einops"),
                             ("flash_attn", "pip install flash-attn, or leave attn_implementation at its default"),
                             ("accelerate", "pip install accelerate"), ("sentencepiece", "pip install sentencepiece"),
                             ("protobuf", "pip install protobuf"), ("tiktoken", "pip install tiktoken")):
        if isinstance(exc, ImportError) and library in lowered:
            return UsageError(f"{reference}: loading this {model_type} checkpoint needs the optional library "
                              f"{library}, which is not installed here: {install}")
    if isinstance(exc, (OSError, ValueError)) and any(w in lowered for w in (
            "preprocessor_config", "processor_config", "tokenizer", "does not appear to have", "can't load",
            "unrecognized processing class", "no such file")):
        return UsageError(f"{reference}: the {model_type} checkpoint's processor files are missing or unreadable "
                          f"(need {', '.join(PROCESSOR_FILES)} and the tokenizer files as the Hub repository ships "
                          f"them; copy them from the checkpoint's Hub repository): {text[:300]}")
    return UsageError(f"{reference}: cannot load this {model_type} checkpoint ({type(exc).__name__}: {text[:300]})")


__all__ = ["PROCESSOR_FILES", "explain_load_error", "has_torchvision", "image_only", "load_processor",
           "needs_video_processor", "processor_class_name"]
