"""Task files and run configs: loading, hashing, validation, overrides, size profiles, package data."""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

import pytest

from benchmarks.spec.config import load_config, packaged_configs
from benchmarks.spec.task import load_task, options_text, packaged_tasks
from schemas.errors import UsageError
from schemas.protocol import ALPHABETICAL_EMOTIONS, CATEGORICAL_INSTRUCTION

ROOT = Path(__file__).resolve().parents[2]


def test_packaged_tasks_and_their_hashes():
    assert set(packaged_tasks()) == {"emoset8", "emoset2", "folder", "sensitivity", "reasoning", "emotion6", "fi8",
                                     "fi2", "artphoto", "abstract", "unbiasedemo", "twitter1", "webemo25",
                                     "webemo7", "webemo2", "blank"}
    for name in packaged_tasks():
        task = load_task(name)
        assert task.name == name
        assert task.hash == hashlib.sha256((ROOT / "benchmarks" / "tasks" / f"{name}.yaml").read_bytes()).hexdigest()


def test_emoset8_asks_emovits_instruction_byte_for_byte():
    task = load_task("emoset8")
    assert task.questions() == {None: CATEGORICAL_INSTRUCTION}
    assert task.labels == ALPHABETICAL_EMOTIONS and task.split == "test"
    sensitivity = load_task("sensitivity").questions()
    assert sensitivity["original"] == CATEGORICAL_INSTRUCTION
    # four phrasings, and EmoVIT's instruction with the labels listed shuffled (per image) and reversed
    assert len(sensitivity) == 6 and len(set(sensitivity.values())) == 5
    assert sensitivity["reversed"] == CATEGORICAL_INSTRUCTION.replace(
        options_text(ALPHABETICAL_EMOTIONS), options_text(ALPHABETICAL_EMOTIONS[::-1]))
    assert all("Predict emotion:" in text and "{options}" not in text for text in sensitivity.values())
    assert options_text(["a", "b", "c"]) == "a, b and c"
    # the folder task's template, filled with the eight labels, is the protocol instruction again
    folder = load_task("folder")
    assert folder.instruction.replace("{options}", options_text(ALPHABETICAL_EMOTIONS)) == CATEGORICAL_INSTRUCTION


def test_emoset2_maps_polarity_as_emoset_reports_it():
    task = load_task("emoset2")
    positive = sorted(k for k, v in task.map.items() if v == "positive")
    assert positive == ["amusement", "awe", "contentment", "excitement"]
    assert sorted(k for k, v in task.map.items() if v == "negative") == ["anger", "disgust", "fear", "sadness"]


@pytest.mark.parametrize("body, message", [
    ("name: x\nsource: build\nlabels: [a]\ninstruction: q\ncolour: red\n", "unknown field(s) colour"),
    ("name: x\nsource: web\nlabels: [a]\ninstruction: q\n", "'source' must be one of"),
    ("name: x\nsource: build\nlabels: [a, a]\ninstruction: q\n", "distinct"),
    ("name: x\nsource: build\nlabels: [a]\n", "needs 'instruction' or 'variants'"),
    ("name: x\nsource: build\nrows: reasoning\nlabels: [a]\n", "set 'mode: generate'"),
    ("name: x\nsource: folder\nlabels: [a]\ninstruction: q\n", "needs 'classes'"),
    ("name: x\nsource: build\nlabels: [a]\ninstruction: q\nanswer: 'Answer:'\n", "must contain {label}"),
    ("[1, 2]\n", "a mapping of fields"),
])
def test_bad_task_files_are_one_clear_error(tmp_path, body, message):
    path = tmp_path / "task.yaml"
    path.write_text(body)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_task(path)
    with pytest.raises(UsageError, match="unknown task 'nope'"):
        load_task("nope")


def test_every_packaged_config_loads_at_both_sizes():
    assert set(packaged_configs()) == {"main", "ablation", "scaling", "sensitivity", "zeroshot", "heldout", "demo",
                                       "reference", "probes"}
    for name in packaged_configs():
        config = load_config(name)
        assert config.models and config.tasks
        for task in config.tasks:
            load_task(task)
        if name != "demo":
            tiny = load_config(name, ["size=tiny"])
            assert tiny.size == "tiny" and tiny.data.get("synth")
            for entry in tiny.models:  # tiny runs offline: every reference is a zoo checkpoint
                assert str(entry.get("path") or entry.get("base")).startswith("zoo:"), (name, entry)


def test_main_compares_the_papers_models_with_real_checkpoints():
    config = load_config("main")
    references = {m["name"]: m.get("path") or m.get("base") for m in config.models}
    assert references == {"emovit": "Salesforce/instructblip-vicuna-7b", "instructblip": "Salesforce/instructblip-vicuna-7b",
                          "blip2": "Salesforce/blip2-opt-2.7b", "llava": "llava-hf/llava-1.5-7b-hf",
                          "llava-ft": "llava-hf/llava-1.5-7b-hf", "clip": "openai/clip-vit-large-patch14"}
    scaling = load_config("scaling")
    assert sorted(m["train"]["train_fraction"] for m in scaling.models) == [0.1, 0.25, 0.5, 1.0]
    ablation = load_config("ablation")
    assert [m["train"]["kinds"] for m in ablation.models if m.get("train")] == [
        ["categorical"], ["categorical", "conversation"], ["categorical", "conversation", "reasoning"]]


def test_overrides_address_models_by_name_and_win_over_the_size_profile():
    config = load_config("main", ["size=tiny", "models.emovit.path=/x/adapter", "batch_size=3", "tasks=[emoset8]",
                                  "models.llava-ft.train.epochs=1", "out=/tmp/o"])
    entry = next(m for m in config.models if m["name"] == "emovit")
    assert entry["path"] == "/x/adapter" and entry["base"] == "zoo:instructblip"
    assert config.batch_size == 3 and config.tasks == ["emoset8"] and config.out == "/tmp/o"
    assert next(m for m in config.models if m["name"] == "llava-ft")["train"]["epochs"] == 1
    with pytest.raises(UsageError, match="no entry named 'gpt'"):
        load_config("main", ["models.gpt.path=x"])
    with pytest.raises(UsageError, match="is not key=value"):
        load_config("main", ["batch_size"])
    with pytest.raises(UsageError, match="no size 'huge'"):
        load_config("main", ["size=huge"])
    with pytest.raises(UsageError, match="'adapter' must be one of"):
        load_config("main", ["models.clip.adapter=dalle"])


def test_yaml_files_are_package_data():
    """A wheel must carry every task and config file: pyproject's package-data globs cover them all."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["benchmarks"]
    files = [p.relative_to(ROOT / "benchmarks").as_posix() for p in (ROOT / "benchmarks").rglob("*.yaml")]
    assert len(files) >= 11
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in patterns) for f in files), (files, patterns)
