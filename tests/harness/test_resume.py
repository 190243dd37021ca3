"""A killed run resumes without re-scoring anything it had written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmarks.run.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _complete_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


#: The sensitivity task on the test build: 32 images under six variants (four phrasings, two option orders).
SAMPLES = 6 * 32


@pytest.mark.slow
def test_resume_after_sigkill_scores_only_the_rest(tmp_path, zoo, bench_build, monkeypatch):
    from benchmarks.run.runner import run_bench
    from benchmarks.spec.config import load_config
    from emovit_model.scoring import EmotionClassifier

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "out": str(tmp_path / "out"), "data": {"build": str(bench_build)}, "tasks": ["sensitivity"],
        "mode": "generate", "batch_size": 1, "progress": False, "leaderboard": False,
        "models": [{"name": "instructblip", "adapter": "instructblip", "path": str(zoo["instructblip"])}]}))
    shard = tmp_path / "out" / "runs" / "instructblip" / "sensitivity" / "shards" / "rank-0.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "benchmarks", "run", "--config", str(config)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(_complete_lines(shard)) < 6:
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never wrote six predictions"
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    before = _complete_lines(shard)
    assert 6 <= len(before) < SAMPLES, "the run finished before it could be killed"
    assert not (shard.parent.parent / "predictions.jsonl").exists()

    generated: list[int] = []
    original = EmotionClassifier.generate

    def counting(self, images, **kwargs):
        images = list(images)
        generated.append(len(images))
        return original(self, images, **kwargs)

    monkeypatch.setattr(EmotionClassifier, "generate", counting)
    result = run_bench(load_config(config))
    assert sum(generated) == SAMPLES - len(before)  # nothing written before the kill is generated again
    assert f"{SAMPLES} samples, {len(before)} already scored, scoring {SAMPLES - len(before)}" in result.log[0]
    final = (shard.parent.parent / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [json.loads(line)["id"] for line in final]
    assert len(ids) == len(set(ids)) == SAMPLES
    by_id = {json.loads(line)["id"]: json.loads(line) for line in final}
    for line in before:  # the records written before the kill are kept as they were
        record = json.loads(line)
        assert by_id[record["id"]] == record
    log = [json.loads(line) for line in (shard.parent.parent / "run_log.jsonl").read_text().splitlines()]
    assert log == [{"already": len(before), "scored": SAMPLES - len(before), "time": log[0]["time"], "world_size": 1}]


def test_a_torn_last_line_is_not_counted_and_is_cut_before_appending(tmp_path):
    store = RunStore(tmp_path / "run", "key1")
    store.open({"task": "t"})
    shard = store.shard(0)
    shard.parent.mkdir(parents=True)
    shard.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "pre')  # killed mid-write
    assert store.done_ids() == {"a", "b"}
    store.appender(0)([{"id": "c"}])
    assert shard.read_text() == '{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n'
    assert [r["id"] for r in store.merge(["c", "a", "b"])] == ["c", "a", "b"]
    assert not shard.exists() and store.complete(["c", "a", "b"]) and not store.complete(["a", "b", "c"])
    with pytest.raises(RuntimeError, match="1 sample\\(s\\) not scored, e.g. d"):
        store.merge(["a", "b", "c", "d"])


def test_a_new_run_key_sets_old_records_aside(tmp_path):
    first = RunStore(tmp_path / "run", "old")
    first.open({})
    first.appender(0)([{"id": "a"}])
    first.merge(["a"])
    second = RunStore(tmp_path / "run", "new")
    assert not second.complete(["a"])
    assert second.open({}) == "old"
    assert second.done_ids() == set()
    assert (tmp_path / "run" / "predictions.jsonl.stale-old").read_text() == '{"id": "a"}\n'
    assert json.loads((tmp_path / "run" / "config.json").read_text())["run_key"] == "new"
