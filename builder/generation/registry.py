"""Generator registry: ``get_generator("template", config)``, ``get_generator("openai:<model>", config)`` or
``get_generator("openai-batch:<model>", config)``.

Backends are imported only when asked for, so the offline path never imports ``openai``.
"""

from __future__ import annotations

from builder.generation.base import InstructionGenerator
from builder.generation.config import GenerationConfig
from schemas.errors import UsageError

#: spec prefix -> one-line description.
GENERATORS: dict[str, str] = {
    "template": "offline, deterministic attribute-grounded phrasings (no network)",
    "openai:<model>": "any OpenAI-compatible chat-completions endpoint (config.base_url, key from config.api_key_env)",
    "openai-batch:<model>": "the same requests through the OpenAI Batch API: half the price, answers within 24 h",
}


class GeneratorSpecError(UsageError, ValueError):
    """A generator spec that names no known backend."""


def get_generator(spec: str, config: GenerationConfig | None = None) -> InstructionGenerator:
    """The generator for ``spec`` configured by ``config`` (defaults when None)."""
    config = config or GenerationConfig()
    name, _, argument = spec.strip().partition(":")
    if name == "template" and not argument:
        from builder.generation.template import TemplateGenerator

        return TemplateGenerator(config)
    if name == "openai":
        if not argument.strip():
            raise GeneratorSpecError("generator 'openai' needs a model: 'openai:<model>', e.g. 'openai:gpt-4o-mini'")
        from builder.generation.openai_backend import OpenAIGenerator

        return OpenAIGenerator(argument.strip(), config)
    if name == "openai-batch":
        if not argument.strip():
            raise GeneratorSpecError("generator 'openai-batch' needs a model: 'openai-batch:<model>', e.g. "
                                     "'openai-batch:gpt-4o-mini'")
        from builder.generation.openai_batch import OpenAIBatchGenerator

        return OpenAIBatchGenerator(argument.strip(), config)
    known = "; ".join(f"{key} ({text})" for key, text in GENERATORS.items())
    raise GeneratorSpecError(f"unknown generator {spec!r}; known: {known}")
