"""The stages after the reader cannot be fooled either: export, curation reading and scoring re-check source
images; a failed rebuild, an interrupted one or a second one at the same time never costs the good build;
duplicates across splits are found; the tree's own labels are used; empty splits and real image formats
survive the exports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from builder.dataset.build import BuildConfig, build_dataset
from schemas.errors import UsageError
from tests.support.fake_openai import FakeChatServer
from tests.support.hostile import png_bytes, truncated_jpeg

SECRET = "sk-test-SECRET-reliability"


def emovit(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], check=False, capture_output=True, text=True, env=env,
                          timeout=timeout)


def entries(root, split):
    return json.loads((root / f"{split}.json").read_text())


def one_line(result, code=2):
    lines = result.stderr.strip().splitlines()
    assert (result.returncode, len(lines)) == (code, 1), result.stderr
    return lines[0]


@pytest.fixture
def built(small_tree, tmp_path, build):
    """A categorical build of a private tree (images stored by path)."""
    out = tmp_path / "build"
    build(small_tree, out, tmp_path / "cache", config="categorical")
    return small_tree, out


# ------------------------------------------------------------------ item 1: containment after the build
def test_export_refuses_a_source_image_replaced_by_a_link_leaving_the_tree(built, tmp_path):
    tree, out = built
    secret = tmp_path / "outside" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(png_bytes(seed=99))
    victim = tree / entries(tree, "test")[0][1]
    victim.unlink()
    victim.symlink_to(secret)
    image_id = victim.stem
    for export_format in ("hub", "llava"):
        target = tmp_path / f"export-{export_format}"
        result = emovit("export", "--dataset", str(out), "--out", str(target), "--format", export_format)
        line = one_line(result)
        assert line.startswith(f"emovit export: error: {out}: split test, image {image_id}: {victim}: resolves to "
                               f"{secret}, outside the source tree"), line
        assert "(path_escape)" in line and not target.exists()
    leaked = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink() and p != secret
              and p.read_bytes() == secret.read_bytes()]
    assert leaked == []


def test_every_later_stage_refuses_it_too(built, tmp_path):
    """Curation reading a build and benchmark scoring apply the same rule (training: tests/model)."""
    from benchmarks.data.samples import build_samples
    from benchmarks.spec.task import Task
    from builder.curation.images import read_build

    tree, out = built
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((tree / entries(tree, "val")[0][1]).read_bytes())
    victim = tree / entries(tree, "test")[1][1]
    victim.unlink()
    victim.symlink_to(secret)
    with pytest.raises(UsageError, match=rf"split test, image {victim.stem}: .*outside the source tree"):
        read_build(out, progress=False)
    task = Task(name="t", source="build", labels=("amusement", "anger", "awe", "contentment", "disgust", "excitement",
                                                  "fear", "sadness"), hash="h", path="p", split="test")
    with pytest.raises(UsageError, match=rf"split test, image {victim.stem}: .*outside the source tree"):
        build_samples(task, out)


def test_export_after_a_source_image_was_deleted_is_one_line(built, tmp_path):
    tree, out = built
    victim = tree / entries(tree, "train")[2][1]
    victim.unlink()
    line = one_line(emovit("export", "--dataset", str(out), "--out", str(tmp_path / "hub")))
    assert line == (f"emovit export: error: {out}: split train, image {victim.stem}: {victim}: image file not found "
                    "(missing_image); rebuild from the tree as it is now")


# ------------------------------------------------------------------ item 3: the same image in two splits
def test_byte_identical_images_across_splits_are_reported_and_can_be_left_out(small_tree, tmp_path, build):
    train, test = entries(small_tree, "train"), entries(small_tree, "test")
    for t, s in ((0, 0), (1, 5)):  # two test images are copies of train images (other files, same bytes)
        shutil.copyfile(small_tree / train[t][1], small_tree / test[s][1])
    report = build(small_tree, tmp_path / "b1", tmp_path / "cache", config="categorical")
    duplicates = report["cross_split_duplicates"]
    assert (duplicates["checked"], duplicates["images"], duplicates["per_split"]) == (True, 2, {"test": 2})
    assert sorted((e["id"], e["same_bytes_as_id"]) for e in duplicates["examples"]) == sorted(
        (Path(test[s][2]).stem, Path(train[t][2]).stem) for t, s in ((0, 0), (1, 5)))
    assert report["splits"]["test"]["images_in_dataset"] == 24
    report = build(small_tree, tmp_path / "b2", tmp_path / "cache", config="categorical",
                   exclude_cross_split_duplicates=True)
    test_split = report["splits"]["test"]
    assert test_split["quarantine_codes"] == {"duplicate_content": 2} and test_split["images_in_dataset"] == 22
    assert test_split["balanced"] and report["cross_split_duplicates"]["images"] == 0
    assert report["splits"]["train"]["images_in_dataset"] == 24


def test_a_corrupt_jpeg_is_quarantined_by_the_builds_worker_processes(small_tree, tmp_path):
    victim = entries(small_tree, "val")[3]
    (small_tree / victim[1]).write_bytes(truncated_jpeg())
    report = build_dataset(BuildConfig(emoset_root=str(small_tree), config="categorical", splits=("val", "test"),
                                       shard_images=12), tmp_path / "b", cache_dir=tmp_path / "cache", num_proc=2,
                           progress=False, plots=False)
    assert report["splits"]["val"]["quarantine_codes"] == {"undecodable_image": 1}
    assert report["splits"]["val"]["images_in_dataset"] == 23 and report["splits"]["val"]["balanced"]


# ------------------------------------------------------------------ items 6, 8, 9: the build folder
def _llm_args(tree, url, out, cache):
    return ["build", "--emoset-root", str(tree), "--config", "reasoning", "--sampling", "all", "--splits", "val",
            "--generator", "openai:tiny-chat", "--base-url", url, "--api-key-env", "EMOVIT_TEST_KEY", "--quiet",
            "--no-plots", "--out", str(out), "--cache-dir", str(cache)]


def test_a_failed_rebuild_keeps_the_good_build_and_goes_beside_it(small_tree_template, tmp_path):
    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    out = tmp_path / "out"
    with FakeChatServer() as server:
        good = emovit(*_llm_args(small_tree_template, server.base_url, out, tmp_path / "c1"), env=env)
    assert good.returncode == 0, good.stderr
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    script = {"?": [{"content": "I would rather talk about turtles."}] * 3}  # 3 of 24 unparseable: 12.5% > 5%
    with FakeChatServer(script=script) as server:
        bad = emovit(*_llm_args(small_tree_template, server.base_url, out, tmp_path / "c2"), env=env)
    failed = tmp_path / "out.failed"
    assert one_line(bad, 1) == (f"emovit build: error: 3 of 24 generations failed (12.5% > --max-failure-rate 5.0%); "
                                f"failed build and its report in {failed}; the previous good build in {out} is kept")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert json.loads((failed / "report.json").read_text())["status"] == "failed"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_stale_staging_folders_of_this_output_are_removed_and_no_others(small_tree_template, tmp_path):
    out = tmp_path / "out"
    ours = [tmp_path / ".out.partial-4242-0123abcd", tmp_path / ".out.old-deadbeef"]
    theirs = [tmp_path / ".other.partial-4242-0123abcd", tmp_path / ".out.partial-keep", tmp_path / ".outer.old-deadbeef"]
    for folder in ours + theirs:
        (folder / "data").mkdir(parents=True)
    result = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(out), "--config", "categorical",
                    "--splits", "val", "--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-plots")
    assert result.returncode == 0, result.stderr
    assert [folder.exists() for folder in ours + theirs] == [False, False, True, True, True]
    assert sorted(line.split(",")[0] for line in result.stderr.strip().splitlines()) == [
        f"removed {folder}" for folder in sorted(ours)]


def test_a_second_build_into_the_same_out_stops_with_one_line(small_tree_template, tmp_path):
    import filelock

    from builder.dataset.outputs import lock_path

    out = tmp_path / "out"
    args = ["build", "--emoset-root", str(small_tree_template), "--out", str(out), "--config", "categorical",
            "--splits", "val", "--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-plots"]
    with filelock.FileLock(str(lock_path(out)), timeout=0):  # a first build is running
        second = emovit(*args)
    assert one_line(second) == (f"emovit build: error: {out}: another emovit command is writing this folder "
                                f"(lock {lock_path(out)}); wait for it to finish or choose another --out")
    assert not out.exists()
    # two at once, for real: one builds, the other waits its turn or stops with that line; never a traceback
    first, other = (subprocess.Popen([sys.executable, "-m", "builder.cli", *args], stderr=subprocess.PIPE, text=True)
                    for _ in range(2))
    outcomes = sorted((process.wait(timeout=300), process.stderr.read()) for process in (first, other))
    assert outcomes[0][0] == 0 and outcomes[1][0] in (0, 2)
    if outcomes[1][0] == 2:
        assert "another emovit command is writing this folder" in outcomes[1][1]
    assert "Traceback" not in outcomes[1][1] and datasets.load_from_disk(str(out))["val"].num_rows == 24
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_repeated_splits_are_one_line(small_tree_template, tmp_path):
    result = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(tmp_path / "b"),
                    "--splits", "train,train", "--cache-dir", str(tmp_path / "cache"))
    assert one_line(result) == "emovit build: error: --splits names train more than once"


# ------------------------------------------------------------------ items 11, 13: curation files
@pytest.mark.parametrize(("document", "message"), [
    ({"format": "emovit-curation/1", "exclude": 5}, "field 'exclude' must be a list of decisions, got 5"),
    ({"format": "emovit-curation/1", "relabel": None}, "field 'relabel' must be a list of decisions, got None"),
    ({"format": "emovit-curation/1", "relabel": [{"id": "a_1", "emotion": "fear"}, {"id": "a_1", "emotion": "awe"}]},
     "relabel[1]: id 'a_1' is already relabelled by relabel[0]"),
])
def test_malformed_curation_files_are_one_line(small_tree_template, tmp_path, document, message):
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps(document))
    result = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(tmp_path / "b"),
                    "--curation", str(path), "--cache-dir", str(tmp_path / "cache"), "--quiet")
    assert one_line(result) == f"emovit build: error: {path}: {message}"


def test_curation_ids_that_are_not_in_the_tree_are_counted(small_tree_template, tmp_path, build):
    kept = Path(entries(small_tree_template, "train")[0][2]).stem
    path = tmp_path / "decisions.json"
    path.write_text(json.dumps({"format": "emovit-curation/1",
                                "exclude": [{"id": kept}, {"id": "ghost_1"}],
                                "relabel": [{"id": "ghost_2", "emotion": " Fear "}]}))
    report = build(small_tree_template, tmp_path / "b", tmp_path / "cache", config="categorical", curation=str(path))
    assert report["curation"] == {"excluded_ids": 2, "relabelled_ids": 1, "ids_not_in_tree": 2,
                                  "examples_not_in_tree": ["ghost_1", "ghost_2"]}
    assert report["splits"]["train"]["images_curated"] == 1


# ------------------------------------------------------------------ item 14: the tree's own labels
def _two_label_tree(root: Path) -> Path:
    from schemas.vocab import Vocabulary
    from tests.support.images import write_jpeg

    info = Vocabulary.default().info_json()
    info["emotion"] = {"label2idx": {"calm": 0, "tense": 1}, "idx2label": {"0": "calm", "1": "tense"}}
    root.mkdir(parents=True)
    (root / "info.json").write_text(json.dumps(info))
    rows = []
    for n, emotion in enumerate(["calm", "tense", "calm", "tense"]):
        write_jpeg(root / "image" / emotion / f"{emotion}_{n}.jpg", seed=n)
        (root / "annotation" / emotion).mkdir(parents=True, exist_ok=True)
        (root / "annotation" / emotion / f"{emotion}_{n}.json").write_text(json.dumps({"emotion": emotion}))
        rows.append([emotion, f"image/{emotion}/{emotion}_{n}.jpg", f"annotation/{emotion}/{emotion}_{n}.json"])
    (root / "train.json").write_text(json.dumps(rows))
    return root


def test_a_tree_with_other_labels_gets_them_in_the_instruction_and_the_card(tmp_path, build):
    from builder.publish.export import export_hub
    from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_instruction

    tree = _two_label_tree(tmp_path / "tree")
    build(tree, tmp_path / "b", tmp_path / "cache", config="categorical")
    rows = datasets.load_from_disk(str(tmp_path / "b"))["train"]
    question = rows[0]["conversations"][0]["value"]
    assert question == "<image>\n" + CATEGORICAL_INSTRUCTION.replace(
        "amusement, anger, awe, contentment, disgust, excitement, fear and sadness", "calm and tense")
    assert question.endswith(categorical_instruction(("tense", "calm")))
    assert rows.features["emotion"].names == ["calm", "tense"]
    card = export_hub(tmp_path / "b", tmp_path / "hub").read_text()
    assert "one of 2 emotions\n  (calm, tense)" in card and "amusement" not in card


# ------------------------------------------------------------------ item 15: exports that load
def test_a_hub_export_with_an_empty_split_loads(small_tree, tmp_path, build):
    from builder.publish.export import export_hub

    (small_tree / "val.json").write_text("[]")
    build(small_tree, tmp_path / "b", tmp_path / "cache", config="categorical")
    assert datasets.load_from_disk(str(tmp_path / "b"))["val"].num_rows == 0
    export_hub(tmp_path / "b", tmp_path / "hub")
    loaded = datasets.load_dataset(str(tmp_path / "hub"), "categorical")
    assert sorted(loaded) == ["test", "train"] and loaded["train"].num_rows == 24
    assert not list((tmp_path / "hub").rglob("val-*"))


@pytest.mark.parametrize("embed", [False, True])
def test_llava_images_keep_their_real_format(small_tree, tmp_path, build, embed):
    from builder.publish.export import export_llava

    rows = entries(small_tree, "train")
    formats = {"PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
    for (_, image, _), kind in zip(rows, formats):
        (small_tree / image).write_bytes(png_bytes(seed=1, format=kind))  # under a .jpg name
    build(small_tree, tmp_path / "b", tmp_path / "cache", config="categorical", embed_images=embed)
    export_llava(tmp_path / "b", tmp_path / "llava")
    samples = {s["id"].rsplit("-", 1)[0]: s["image"] for s in json.loads((tmp_path / "llava" / "train.json").read_text())}
    for (_, image, annotation), suffix in zip(rows, formats.values()):
        written = tmp_path / "llava" / "images" / samples[Path(annotation).stem]
        assert written.suffix == suffix and written.read_bytes() == (small_tree / image).read_bytes()
    assert samples[Path(rows[3][2]).stem].endswith(".jpg")
