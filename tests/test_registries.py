"""Every table of named things is a :class:`schemas.registry.Registry` in the one dialect (``package.module:attribute``
entries imported on first use): the ``emovit`` commands, the generators, the captioners, the model families, the
zoo kinds and the benchmark adapters."""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas.errors import UsageError
from schemas.registry import Registry

REGISTRIES = {
    "commands": ("builder.cli", "COMMANDS"),
    "generators": ("builder.generation.registry", "GENERATORS"),
    "captioners": ("builder.captions", "CAPTIONERS"),
    "families": ("emovit_model.families", "FAMILIES"),
    "zoo kinds": ("emovit_model.zoo", "BUILDERS"),
    "adapters": ("benchmarks.adapters", "ADAPTERS"),
}


def _registry(name: str) -> Registry:
    import importlib

    module, attribute = REGISTRIES[name]
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize("name", list(REGISTRIES))
def test_every_table_is_a_registry_whose_entries_load(name):
    registry = _registry(name)
    assert isinstance(registry, Registry) and len(registry) >= 3
    for key in registry:
        assert registry.load(key) is not None, key


def test_importing_the_tables_imports_none_of_their_entries():
    code = ("import sys, builder.cli, builder.generation.registry, builder.captions, emovit_model.families, "
            "emovit_model.zoo, benchmarks.adapters\n"
            "print(sorted(m for m in ('torch', 'transformers', 'openai', 'builder.generation.openai_backend', "
            "'builder.captions.blip2', 'emovit_model.scorers.chat', 'emovit_model.zoo.classic', "
            "'benchmarks.adapters.presets', 'builder.dataset.build') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_command_is_a_modules_run_beside_its_add_arguments():
    from builder.cli import COMMANDS, command_module

    for name in COMMANDS:
        module = command_module(name)
        assert COMMANDS.load(name) is module.run and callable(module.add_arguments), name


def test_generators_and_captioners_by_spec():
    from builder.captions import CAPTIONERS, CaptionerSpecError, get_captioner
    from builder.generation import GenerationConfig, get_generator
    from builder.generation.openai_batch import OpenAIBatchGenerator

    assert list(CAPTIONERS) == ["attributes", "file:<path>", "blip2:<model>"]
    generator = get_generator(" openai-batch: gpt-4o ", GenerationConfig())
    assert isinstance(generator, OpenAIBatchGenerator) and generator.model == "gpt-4o"
    for spec, message in (("openai-batch", ("generator 'openai-batch' needs a model: 'openai-batch:<model>', e.g. "
                                           "'openai-batch:gpt-4o-mini'")),
                          ("template:x", ("unknown generator 'template:x'; known: template (offline, deterministic "
                                         "attribute-grounded phrasings (no network)); openai:<model> (any "
                                         "OpenAI-compatible chat-completions endpoint (config.base_url, key from "
                                         "config.api_key_env)); openai-batch:<model> (the same requests through the "
                                         "OpenAI Batch API: half the price, answers within 24 h)"))):
        with pytest.raises(UsageError) as caught:
            get_generator(spec)
        assert str(caught.value) == message
    with pytest.raises(CaptionerSpecError) as caught:
        get_captioner("file:")
    assert str(caught.value) == ("unknown captioner 'file:'; known: attributes (composed from scene, objects, action "
                                 "and expression (offline)); file:<path> (read from a JSONL or CSV file of "
                                 "id/caption); blip2:<model> (BLIP-2 via transformers (Hub id or local checkpoint))")
    with pytest.raises(CaptionerSpecError, match=r"^captioner 'attributes' takes no options \(got batch_size\)$"):
        get_captioner("attributes", batch_size=2)
    assert [name for name in CAPTIONERS if CAPTIONERS.load(name).takes_options] == ["blip2:<model>"]


def test_the_zoo_kinds_are_the_registrys_in_order():
    from emovit_model.zoo import BUILDERS, KINDS

    assert KINDS == tuple(BUILDERS) == ("instructblip", "blip2", "llava", "llava-next", "idefics3", "clip",
                                        "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "gemma3", "internvl", "llava-onevision")
