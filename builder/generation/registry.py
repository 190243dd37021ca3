"""Generator registry: ``get_generator("template", config)``, ``get_generator("openai:<model>", config)`` or
``get_generator("openai-batch:<model>", config)``.

Backends are imported only when asked for, so the offline path never imports ``openai``.
"""

from __future__ import annotations

from builder.generation.base import InstructionGenerator
from builder.generation.config import GenerationConfig
from schemas.errors import UsageError
from schemas.registry import Entry, Registry

#: The generators by spec; ``:<model>`` marks the model a spec names after the colon (given to the class first).
GENERATORS = Registry("generator", {
    "template": Entry("builder.generation.template:TemplateGenerator",
                      "offline, deterministic attribute-grounded phrasings (no network)"),
    "openai:<model>": Entry("builder.generation.openai_backend:OpenAIGenerator",
                            "any OpenAI-compatible chat-completions endpoint (config.base_url, key from "
                            "config.api_key_env)"),
    "openai-batch:<model>": Entry("builder.generation.openai_batch:OpenAIBatchGenerator",
                                  "the same requests through the OpenAI Batch API: half the price, answers within 24 h"),
})


class GeneratorSpecError(UsageError, ValueError):
    """A generator spec that names no known backend."""


def get_generator(spec: str, config: GenerationConfig | None = None) -> InstructionGenerator:
    """The generator for ``spec`` configured by ``config`` (defaults when None)."""
    config = config or GenerationConfig()
    name, _, argument = spec.strip().partition(":")
    for form, entry in GENERATORS.items():
        prefix, _, takes = form.partition(":")
        if prefix != name:
            continue
        if not takes and not argument:
            return entry.load()(config)
        if takes:
            if not argument.strip():
                raise GeneratorSpecError(f"generator {name!r} needs a model: {form!r}, e.g. '{name}:gpt-4o-mini'")
            return entry.load()(argument.strip(), config)
    known = "; ".join(f"{form} ({entry.summary})" for form, entry in GENERATORS.items())
    raise GeneratorSpecError(f"unknown generator {spec!r}; known: {known}")
