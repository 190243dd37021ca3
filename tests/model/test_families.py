"""One row per model family: every fact the toolkit keeps about a family is read from its row of
:data:`emovit_model.families.FAMILIES` (scorer, model types, model class, default checkpoint, zoo kind, image
tokens, collator, tunings)."""

from __future__ import annotations

import dataclasses

import pytest

from emovit_model.families import FAMILIES, Family
from schemas.registry import Registry


def test_every_row_is_whole_and_the_rows_do_not_overlap():
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    from emovit_model.train.config import TUNING_CHOICES
    from emovit_model.zoo import KINDS

    claimed = [model_type for family in FAMILIES.values() for model_type in family.model_types]
    assert len(claimed) == len(set(claimed)), "a model type claimed by two rows"
    assert sorted(f.zoo_kind for f in FAMILIES.values() if f.zoo_kind) == sorted(KINDS)  # each kind, one row
    assert [name for name, f in FAMILIES.items() if f.image_text_to_text] == ["vlm"]
    assert {"auto", *(t for f in FAMILIES.values() for t in f.tunings)} == set(TUNING_CHOICES)
    for name, family in FAMILIES.items():
        assert family.load().family in ("instructblip", "blip-2", "clip", "vlm", "openai"), name
        assert family.model_class is None or hasattr(transformers, family.model_class), name
        assert bool(family.collator) == bool(family.tunings), name
        if family.collator:
            assert callable(family.collator_class().for_training), name
        if family.model_class is not None:
            assert family.image_tokens is not None, name
        if family.model_class == "AutoModelForImageTextToText":  # a chat family is a vlm to transformers too
            assert set(family.model_types) <= set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES), name


def _with_row(monkeypatch, name: str, **changes) -> Family:
    from emovit_model import families

    row = dataclasses.replace(FAMILIES[name], **changes)
    monkeypatch.setattr(families, "FAMILIES", Registry("model family", {**FAMILIES, name: row}))
    return row


def test_adapters_training_and_the_plan_read_the_row(monkeypatch):
    """Changing a family's row changes what every stage knows about it, and nothing else has to change."""
    from types import SimpleNamespace

    from benchmarks.adapters import ADAPTERS
    from benchmarks.run.plan import image_tokens
    from emovit_model.model import resolve_tuning

    _with_row(monkeypatch, "llava", model_types=("llava", "llava_fork"), checkpoint="me/llava-13b",
              zoo_kind="llava-next", tunings=("projector", "lora"), image_tokens=lambda config, size: 7 * size)
    for adapter in ("llava", "llava-ft"):
        assert ADAPTERS.load(adapter).model_types == ("llava", "llava_fork")
        assert ADAPTERS.load(adapter).checkpoint == "me/llava-13b"
        assert ADAPTERS.load(adapter).zoo_kind == "llava-next"
    assert ADAPTERS.load("llava-ft").train_defaults == {"tuning": "projector"}
    assert resolve_tuning("llava_fork") == "projector"
    assert image_tokens(SimpleNamespace(model_type="llava_fork", architectures=[]), 3) == 21
    assert ADAPTERS.load("llava-next").checkpoint == "llava-hf/llava-v1.6-vicuna-7b-hf"  # other rows untouched


def test_the_training_collator_is_the_rows(monkeypatch, tmp_path):
    import sys

    from emovit_model.train import TrainConfig
    from emovit_model.train.recipe import make_collator

    (tmp_path / "toy_collator.py").write_text(
        "class ToyCollator:\n"
        "    @classmethod\n"
        "    def for_training(cls, processor, config, augment=None):\n"
        "        return ('toy', processor, config.max_length, augment)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _with_row(monkeypatch, "llava", collator="toy_collator:ToyCollator")
    config = TrainConfig(base="b", dataset="d", out=str(tmp_path / "out"), max_length=99)
    assert make_collator(config, "processor", "llava") == ("toy", "processor", 99, None)
    sys.modules.pop("toy_collator", None)


@pytest.mark.parametrize("model_type", ["blip-2", "qwen2_vl", "bert"])
def test_a_family_without_tunings_does_not_train(model_type):
    from emovit_model.model import resolve_tuning
    from schemas.errors import UsageError

    with pytest.raises(UsageError) as caught:
        resolve_tuning(model_type)
    assert str(caught.value) == f"training supports InstructBLIP (EmoVIT) and LLaVA bases, not {model_type!r}"
