"""The adapters: a registry of rows, behaviour modules only where behaviour differs, and nothing taken from the
harness's run bookkeeping."""

from __future__ import annotations

import ast
from pathlib import Path

import benchmarks.adapters as package
from benchmarks.adapters import ADAPTERS
from benchmarks.adapters.base import Adapter


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_adapters_import_nothing_of_the_harness_but_themselves():
    """``checkpoint_identity`` and the other model facts come from ``emovit_model``, not from run bookkeeping."""
    outside = {f"{path.name}: {name}" for path in Path(package.__file__).parent.glob("*.py")
               for name in _imports(path)
               if name.split(".")[0] == "benchmarks" and not name.startswith("benchmarks.adapters")}
    assert outside == set()


def test_adapters_differing_only_in_data_are_rows_of_one_table():
    kinds = {name: type(ADAPTERS.load(name)) for name in ADAPTERS}
    assert {name for name, kind in kinds.items() if kind is not Adapter} == {"emovit", "openai"}
    assert {ADAPTERS[name].target.partition(":")[0] for name, kind in kinds.items() if kind is Adapter} == \
        {"benchmarks.adapters.presets"}
    for name in ADAPTERS:
        adapter = ADAPTERS.load(name)
        assert adapter.name == name and adapter.description == ADAPTERS[name].summary


def test_an_alias_checks_its_familys_model_types_and_vlm_takes_any_chat_model():
    from emovit_model.families import FAMILIES

    assert ADAPTERS.load("qwen3-vl").model_types == ("qwen3_vl", "qwen3_vl_moe") == FAMILIES["qwen3-vl"].model_types
    assert ADAPTERS.load("idefics3").model_types == ("idefics3", "smolvlm")
    vlm = ADAPTERS.load("vlm")
    assert vlm.model_types == () and vlm.families == ("vlm",)
    assert (vlm.checkpoint, vlm.zoo_kind) == ("llava-hf/llava-v1.6-vicuna-7b-hf", "llava-next")
    api = ADAPTERS.load("openai")
    assert api.model_types == () and api.families == ("openai",) and api.zoo_kind == ""
    assert {name for name in ADAPTERS if ADAPTERS.load(name).trainable} == {"emovit", "llava-ft"}
    assert ADAPTERS.load("emovit").train_defaults == {"tuning": "qformer"}
    assert ADAPTERS.load("llava-ft").train_defaults == {"tuning": "lora"}
    assert ADAPTERS.load("llava").train_defaults == {}
