import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from builder.export import export_hub, export_llava


@pytest.fixture(scope="module")
def hub_folder(built_all, tmp_path_factory):
    out, _ = built_all
    folder = tmp_path_factory.mktemp("hub") / "export"
    export_hub(out, folder)
    return folder


def card_yaml(folder: Path) -> dict:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def image_bytes(dataset):
    return [row["bytes"] if row["bytes"] is not None else Path(row["path"]).read_bytes()
            for row in dataset.cast_column("image", datasets.Image(decode=False))["image"]]


@pytest.mark.parametrize("config", ["all", "categorical", "conversation", "reasoning"])
def test_export_round_trips_through_load_dataset(built_all, hub_folder, config):
    built = datasets.load_from_disk(str(built_all[0]))
    loaded = datasets.load_dataset(str(hub_folder), config)
    assert set(loaded) == set(built)
    for split, dataset in built.items():
        expected = dataset if config == "all" else dataset.filter(lambda k: k == config, input_columns="kind")
        assert len(expected) > 0
        assert loaded[split].features == expected.features
        assert loaded[split].remove_columns("image").to_list() == expected.remove_columns("image").to_list()
        assert image_bytes(loaded[split]) == image_bytes(expected)


def test_card_metadata_lists_every_config_and_split(built_all, hub_folder):
    meta = card_yaml(hub_folder)
    names = [c["config_name"] for c in meta["configs"]]
    assert names == ["all", "categorical", "conversation", "reasoning"]
    assert [c.get("default", False) for c in meta["configs"]] == [True, False, False, False]
    all_config = meta["configs"][0]
    assert all_config["data_files"] == [{"split": s, "path": f"data/all/{s}-*"} for s in ("train", "val", "test")]
    infos = {info["config_name"]: info for info in meta["dataset_info"]}
    assert set(infos) == set(names)
    built = datasets.load_from_disk(str(built_all[0]))
    assert {s["name"]: s["num_examples"] for s in infos["all"]["splits"]} == {k: len(v) for k, v in built.items()}
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en"]
    assert meta["size_categories"] == ["n<1K"] and "emotion" in meta["tags"] and meta["pretty_name"]
    assert "visual-question-answering" in meta["task_categories"]
    body = (hub_folder / "README.md").read_text()
    for heading in ("## Summary", "## Structure", "## How it was generated", "## Validation and curation",
                    "## Limitations and bias", "## License", "## Citation"):
        assert heading in body
    assert "{{" not in body and "{%" not in body


def test_llava_export_has_one_object_per_sample_and_existing_images(built_all, tmp_path):
    built = datasets.load_from_disk(str(built_all[0]))
    counts = export_llava(built_all[0], tmp_path / "llava")
    assert counts == {split: len(ds) for split, ds in built.items()}
    for split in built:
        samples = json.loads((tmp_path / "llava" / f"{split}.json").read_text())
        assert len(samples) == len(built[split])
        assert [s["id"] for s in samples] == built[split]["id"]
        for sample in samples:
            assert set(sample) == {"id", "image", "conversations"}
            assert sample["conversations"][0]["from"] == "human"
            assert sample["conversations"][0]["value"].startswith("<image>\n")
            assert (tmp_path / "llava" / "images" / sample["image"]).is_file()


def test_export_of_a_non_build_is_exit_code_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "builder.cli", "export", "--dataset", str(tmp_path),
                             "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"emovit export: error: {tmp_path}: not a build directory (run 'emovit build' first)"


def test_push_without_network_is_one_clear_line(hub_folder):
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:9", HF_TOKEN="hf_test_SECRET_token", HF_HUB_OFFLINE="0")
    result = subprocess.run([sys.executable, "-m", "builder.cli", "push", "--dataset", str(hub_folder),
                             "--repo-id", "someone/emovit-test"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emovit push: error: could not push to someone/emovit-test:")
    assert "hf_test_SECRET_token" not in result.stderr + result.stdout
