"""GenerationConfig validation and serialisation; the generator registry."""

from __future__ import annotations

import json
import pickle

import pytest

from builder.generation import GenerationConfig, get_generator
from builder.generation.openai_backend import OpenAIGenerator
from builder.generation.template import TemplateGenerator
from schemas.errors import UsageError


def test_defaults_serialise_to_json_without_a_key(tmp_path):
    config = GenerationConfig(cache_dir=tmp_path, base_url="http://127.0.0.1:8000/v1", api_key_env="MY_KEY")
    document = json.loads(config.to_json())
    assert document["cache_dir"] == str(tmp_path) and document["api_key_env"] == "MY_KEY"
    assert GenerationConfig.from_dict(document) == config
    assert config.cache_path == tmp_path / "responses.sqlite"


@pytest.mark.parametrize("options, message", [
    ({"max_in_flight": 0}, "max_in_flight"),
    ({"max_retries": -1}, "max_retries"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"temperature": 2.5}, "temperature"),
    ({"price_per_million_input": -1.0}, "price_per_million_input"),
    ({"base_url": "ftp://example.org"}, "base_url"),
    ({"split_turns": "yes"}, "split_turns"),
    ({"max_in_flight": True}, "max_in_flight"),
])
def test_invalid_options_fail_early(options, message):
    with pytest.raises(ValueError, match=message):
        GenerationConfig(**options)


def test_a_key_pasted_instead_of_a_variable_name_is_rejected_without_echo():
    with pytest.raises(ValueError) as caught:
        GenerationConfig(api_key_env="sk-test-SECRET-123")
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ValueError) as caught:
        GenerationConfig(base_url="https://user:sk-test-SECRET-123@example.org/v1")
    assert "SECRET" not in str(caught.value)


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match="colour"):
        GenerationConfig.from_dict({"colour": "red"})


def test_registry():
    config = GenerationConfig(seed=4)
    assert isinstance(get_generator("template", config), TemplateGenerator)
    generator = get_generator("openai:gpt-4o-mini", config)
    assert isinstance(generator, OpenAIGenerator)
    assert generator.info.backend == "openai" and generator.info.model == "gpt-4o-mini" and generator.info.seed == 4
    assert pickle.loads(pickle.dumps(generator)).model == "gpt-4o-mini"
    for bad in ("openai:", "gpt4", "template:x"):
        with pytest.raises(UsageError):
            get_generator(bad, config)
