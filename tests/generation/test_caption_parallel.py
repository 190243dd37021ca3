"""Captioning with several processes: ``emovit caption`` under torchrun (gloo on CPU) fills the caption cache
with exactly the captions one process makes, and the build then reads them from there."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from builder.captions.base import CaptionCache
from builder.captions.parallel import RankCaptionCache, merge_parts
from builder.dataset.caption import caption_build
from builder.dataset.config import BuildConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def zoo_blip2(tmp_path_factory) -> Path:
    """The tiny random BLIP-2 of the model zoo (the same checkpoint the demo and the harness use)."""
    from emovit_model.zoo import build_tiny

    return build_tiny("blip2", tmp_path_factory.mktemp("zoo") / "blip2", seed=0)


def _rows(cache_dir: Path) -> list[tuple]:
    with closing(sqlite3.connect(cache_dir / "captions.sqlite")) as db:
        return db.execute("SELECT captioner, content, caption FROM captions_by_content ORDER BY content").fetchall()


def _config(tree: Path, model: Path) -> BuildConfig:
    return BuildConfig(emoset_root=str(tree), config="categorical", captioner=f"blip2:{model}",
                       splits=("train", "val"), shard_images=5)


@pytest.mark.slow
def test_two_processes_caption_exactly_what_one_does_and_the_build_reads_them(small_tree_template, zoo_blip2,
                                                                             tmp_path, monkeypatch):
    single = caption_build(_config(small_tree_template, zoo_blip2), cache_dir=tmp_path / "one")
    assert [(t.rank, t.units, t.images, t.captioned) for t in single] == [(0, 10, 48, 48)]
    args = ["caption", "--emoset-root", str(small_tree_template), "--config", "categorical", "--captioner",
            f"blip2:{zoo_blip2}", "--splits", "train,val", "--shard-images", "5", "--quiet"]
    torchrun = [str(Path(sys.executable).with_name("torchrun")), "--nproc-per-node", "2", "-m", "builder.cli"]
    two = subprocess.run([*torchrun, *args, "--cache-dir", str(tmp_path / "two")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, check=False)
    assert two.returncode == 0, two.stderr[-3000:]
    # 24 train + 24 val entries in units of 5 (5, 5, 5, 5, 4 per split): rank 0 takes units 0, 2, 4, 6, 8 and
    # rank 1 units 1, 3, 5, 7, 9, so each captions 24 images
    table = [line.split() for line in two.stdout.splitlines() if line.split()[:1] in (["0"], ["1"], ["all"])]
    assert table == [["0", "5", "24", "0", "24", "0"], ["1", "5", "24", "0", "24", "0"],
                     ["all", "10", "48", "0", "48", "0"]]
    assert len(_rows(tmp_path / "one")) == 48
    assert _rows(tmp_path / "two") == _rows(tmp_path / "one")
    assert not {"caption-parts", "caption-plans"} & {p.name for p in (tmp_path / "two").iterdir()}  # merged, gone

    # Run again: everything is cached, nothing is captioned.
    again = subprocess.run([*torchrun, *args, "--cache-dir", str(tmp_path / "two")], capture_output=True, text=True,
                           cwd=ROOT, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert ["all", "10", "48", "48", "0", "0"] in [line.split() for line in again.stdout.splitlines()]

    # The build finds every caption in the cache: BLIP-2 never runs.
    from builder.captions.blip2 import Blip2Captioner
    from builder.dataset.build import build_dataset

    def no_model(self, records):
        raise AssertionError("the build captioned an image itself")

    monkeypatch.setattr(Blip2Captioner, "compute", no_model)
    build_dataset(_config(small_tree_template, zoo_blip2), tmp_path / "build", cache_dir=tmp_path / "two",
                  progress=False, plots=False)
    import datasets

    built = datasets.load_from_disk(str(tmp_path / "build"))
    by_content = {content: caption for _, content, caption in _rows(tmp_path / "two")}
    from builder.captions.base import file_sha256

    for split in ("train", "val"):
        rows = built[split].select_columns(["image", "caption"]).cast_column(
            "image", datasets.Image(decode=False))
        assert len(rows) == 24
        assert all(row["caption"] == by_content[file_sha256(row["image"]["path"])] for row in rows)


def test_parts_of_a_killed_run_are_merged_before_the_next_run_reads_the_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    cache = CaptionCache(cache_dir)
    cache.put_many("k", [("a", "caption a")])
    cache.close()
    part = RankCaptionCache(cache_dir, rank=1)  # a process that died before rank 0 merged its part
    part.put_many("k", [("b", "caption b"), ("c", "caption c")])
    assert part.get_many("k", ["a", "b", "z"]) == {"a": "caption a", "b": "caption b"}  # snapshot + own part
    part.close()
    assert merge_parts(cache_dir) == 2
    assert [row[1:] for row in _rows(cache_dir)] == [("a", "caption a"), ("b", "caption b"), ("c", "caption c")]
    assert not (cache_dir / "caption-parts").exists()


def _write_many(cache_dir: str, writer: int, batches: int) -> None:
    cache = CaptionCache(cache_dir)
    for batch in range(batches):
        cache.put_many("k", [(f"{writer}-{batch}-{n}", f"caption {writer} {batch} {n}") for n in range(10)])
    cache.close()


def test_several_processes_write_the_cache_at_once(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), writer, 150)) for writer in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    rows = _rows(tmp_path)
    assert len(rows) == 3 * 150 * 10 and rows[0] == ("k", "0-0-0", "caption 0 0 0")
