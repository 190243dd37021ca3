"""Re-loading a grown source, an image that moved, a busy port, and ``--database-dir`` starting its own
``mongod`` in the directory given."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from schemas.errors import UsageError


def test_a_grown_source_adds_samples_with_their_split_tags(fiftyone_db, planted_tree):
    from builder.curation.images import read_tree
    from builder.curation.loader import load_source

    source = read_tree(planted_tree, progress=False)
    full = list(source.images)
    source.images = [e for e in full if e.split != "test"]
    first = load_source(source, "grow", progress=False)
    source.images = full
    second = load_source(source, "grow", progress=False)
    assert (first.added, first.updated) == (48, 0) and (second.added, second.updated, second.not_in_source) == (24, 48, 0)
    dataset = fiftyone_db.load_dataset("grow")
    tags = dict(zip(*dataset.values(["image_id", "tags"])))
    splits = dict(zip(*dataset.values(["image_id", "split"])))
    assert len(dataset) == 72 and all(tags[i] == [splits[i]] for i in tags)
    assert dataset.count_sample_tags() == {"train": 24, "val": 24, "test": 24}
    assert set(dataset.values("in_build")) == {True}
    emotions = dict(zip(*dataset.values(["image_id", "emotion.label"])))
    assert all(emotions[i] == i.rsplit("_", 1)[0] for i in emotions)


def test_reloading_a_raw_tree_over_a_build_clears_build_only_values(fiftyone_db, planted_build, planted_tree,
                                                                    tmp_path):
    from builder.curation.images import read_build, read_tree
    from builder.curation.loader import load_source

    load_source(read_build(planted_build, progress=False), "swap", media_dir=tmp_path, progress=False)
    dataset = fiftyone_db.load_dataset("swap")
    assert None not in dataset.values("caption") and None not in dataset.values("build_fingerprint")
    result = load_source(read_tree(planted_tree, progress=False), "swap", progress=False)
    assert (result.added, result.updated) == (0, 72)
    dataset.reload()
    for name in ("caption", "build_fingerprint", "generator"):
        assert set(dataset.values(name)) == {None}, name
    assert set(map(tuple, dataset.values("instructions_reasoning"))) == {()}
    assert set(dataset.values("source")) == {str(planted_tree.resolve())}


def test_an_image_that_moved_is_one_clear_error(fiftyone_db, planted_tree, tmp_path):
    from builder.curation.images import read_tree
    from builder.curation.loader import load_source
    from builder.curation.signals import compute_signals

    tree = tmp_path / "emoset"
    shutil.copytree(planted_tree, tree)
    load_source(read_tree(tree, progress=False), "moved", progress=False)
    (tree / "image" / "awe" / "awe_00004.jpg").unlink()
    with pytest.raises(UsageError, match=r"awe_00004.jpg: cannot read the image of awe_00004"):
        compute_signals(fiftyone_db.load_dataset("moved"), progress=False)


def test_a_busy_port_is_refused(planted):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "builder.cli", "curate", "app", "--name", "planted", "--port",
                                 str(port)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"emovit curate: error: port {port} on 127.0.0.1 is already in use; "
                                      "choose another with --port")


def test_database_dir_option_uses_its_own_database(fiftyone_db, tmp_path):
    """A fresh shell (no inherited connection) with --database-dir: FiftyOne starts a mongod there."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FIFTYONE_PRIVATE_DATABASE_PORT", "FIFTYONE_DATABASE_DIR", "FIFTYONE_DATABASE_URI")}
    result = subprocess.run([sys.executable, "-m", "builder.cli", "curate", "decisions", "--name", "planted",
                             "--out", str(tmp_path / "d.json"), "--database-dir", str(tmp_path / "other-db")],
                            capture_output=True, text=True, timeout=180, env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("emovit curate: error: no FiftyOne dataset named 'planted' in this database "
                                      "(datasets: none); create it with 'emovit curate load'")
    assert (tmp_path / "other-db" / "WiredTiger").is_file()
