import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml

from builder.dataset.outputs import safe_child
from builder.publish.export import export_hub, export_llava
from schemas.errors import UsageError


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


def test_export_replaces_an_earlier_export_whole_and_refuses_other_folders(built_all, hub_folder, build,
                                                                            small_tree_template, tmp_path):
    import shutil

    folder = tmp_path / "hub"
    shutil.copytree(hub_folder, folder)  # an earlier export of an `all` build
    categorical = tmp_path / "categorical-build"
    build(small_tree_template, categorical, tmp_path / "cache", config="categorical", splits=("val",))
    export_hub(categorical, folder)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["README.md", "data/categorical/val-00000-of-00001.parquet", "export.json"]
    assert json.loads((folder / "export.json").read_text())["files"] == ["README.md",
                                                                         "data/categorical/val-00000-of-00001.parquet"]
    assert [c["config_name"] for c in card_yaml(folder)["configs"]] == ["categorical"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="is not empty and is not an emovit export"):
        export_llava(categorical, mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_published_files_name_the_source_not_local_paths(build, small_tree_template, tmp_path):
    captions = tmp_path / "private" / "my-captions.jsonl"
    captions.parent.mkdir()
    ids = [Path(entry[2]).stem for entry in json.loads((small_tree_template / "val.json").read_text())]
    captions.write_text("".join(json.dumps({"id": i, "caption": f"a photo number {n}"}) + "\n"
                                for n, i in enumerate(ids)))
    build(small_tree_template, tmp_path / "b", tmp_path / "cache", config="categorical", splits=("val",),
          captioner=f"file:{captions}", source_name="EmoSet-118K sample")
    build(small_tree_template, tmp_path / "d", tmp_path / "cache", config="categorical", splits=("val",))
    export_hub(tmp_path / "b", tmp_path / "hub")
    export_hub(tmp_path / "d", tmp_path / "hub-default")
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "Source: `EmoSet-118K sample`" in card and "`file:my-captions.jsonl` captioner" in card
    assert f"Source: `{small_tree_template.name}`" in (tmp_path / "hub-default" / "README.md").read_text()
    for folder in (tmp_path / "hub", tmp_path / "hub-default"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for local in (str(tmp_path), str(small_tree_template), str(Path.home())):
                    assert local.encode() not in data, (path, local)


def test_writers_refuse_ids_that_would_leave_their_folder(build, small_tree_template, tmp_path):
    """Ids are checked at the source; the LLaVA writer checks again before joining one into a path."""
    import shutil

    build(small_tree_template, tmp_path / "b", tmp_path / "cache", config="categorical", splits=("val",))
    forged = tmp_path / "forged"
    val = datasets.load_from_disk(str(tmp_path / "b"))["val"]
    bad = val.map(lambda row, i: {"image_id": "../../escaped" if i == 0 else row["image_id"]}, with_indices=True)
    datasets.DatasetDict({"val": bad}).save_to_disk(str(forged))
    shutil.copy(tmp_path / "b" / "report.json", forged / "report.json")
    with pytest.raises(UsageError, match="refusing to write '../../escaped.jpg'"):
        export_llava(forged, tmp_path / "deep" / "llava")
    assert not list(tmp_path.rglob("escaped*")) and not (tmp_path / "deep" / "llava").exists()
    assert safe_child(tmp_path, "fine_id-1.jpg") == tmp_path / "fine_id-1.jpg"
    for name in ("..", "a/b.jpg", "/etc/passwd", "a\\b.jpg", ""):
        with pytest.raises(UsageError):
            safe_child(tmp_path, name)


def test_push_mirrors_the_files_an_export_owns(hub_folder, monkeypatch):
    import huggingface_hub

    from builder.publish.push import push_folder

    calls = []

    class RecordingApi:
        def create_repo(self, *args, **kwargs):
            calls.append(("create_repo", args, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", (), kwargs))
            return type("Commit", (), {"commit_url": "https://hub.example/commit/1"})()

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    assert push_folder(hub_folder, "someone/emovit") == "https://hub.example/commit/1"
    upload = calls[-1][2]
    assert upload["folder_path"] == str(hub_folder) and upload["repo_type"] == "dataset"
    assert upload["delete_patterns"] == upload["allow_patterns"] == ["README.md", "data/**"]


def test_the_packaged_card_template_is_the_projects_datasets_card():
    from builder.publish.export import card_template

    top_level = Path(__file__).resolve().parents[2] / "datasets_card.md"
    assert card_template() == top_level.read_text(encoding="utf-8")
