"""The optional LLM judge of the reasoning task, against the loopback OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from benchmarks.run.judge import judge_reasoning, read_verdict
from schemas.errors import UsageError
from tests.support.fake_openai import FakeChatServer

KEY = "sk-judge-test-0123456789"


def _verdicts(item: str, request: dict) -> str:
    """Consistent when the graded answer names the reference emotion."""
    text = request["messages"][-1]["content"]
    gold = text.split("Reference emotion: ")[1].split("\n")[0]
    answer = text.split("Answer to grade:\n")[1]
    return json.dumps({"verdict": "consistent" if gold in answer else "inconsistent"})


ROWS = [
    {"id": "r1", "gold": "awe", "raw": "It evokes awe: a vast mountain."},
    {"id": "r2", "gold": "fear", "raw": "Predict emotion: amusement"},
    {"id": "r3", "gold": "fear", "raw": None},
]


@pytest.mark.parametrize("content, verdict", [
    ('{"verdict": "consistent"}', "consistent"), ('{"verdict": "inconsistent"}', "inconsistent"),
    ("The answer is inconsistent.", "inconsistent"), ("consistent? inconsistent?", None), ("", None), (None, None),
])
def test_read_verdict(content, verdict):
    assert read_verdict(content) == verdict


def test_judge_retries_caches_and_keeps_the_key_out(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)
    with FakeChatServer(answer=_verdicts, expected_key=KEY, script={"?": [{"status": 500}]}) as server:
        settings = {"model": "judge-1", "base_url": server.base_url, "api_key_env": "JUDGE_KEY",
                    "backoff_base_s": 0.01}
        results = judge_reasoning(ROWS, {"r1": "How does it feel?"}, settings, tmp_path / "cache.sqlite",
                                  tmp_path / "judge.jsonl", progress=False)
        assert [r["verdict"] for r in results] == ["consistent", "inconsistent", None]
        assert [status for _, _, status, _ in server.log] == [500, 200, 200], server.log
        again = judge_reasoning(ROWS, {"r1": "How does it feel?"}, settings, tmp_path / "cache.sqlite", tmp_path / "judge.jsonl",
                                progress=False)
        assert len(server.log) == 3 and again == results  # answered from the cache: no request sent
    assert [json.loads(line)["id"] for line in (tmp_path / "judge.jsonl").read_text().splitlines()] == ["r1", "r2", "r3"]
    assert KEY not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")
    assert KEY not in (tmp_path / "judge.jsonl").read_text()


def test_missing_key_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match="environment variable NO_SUCH_KEY is not set"):
        judge_reasoning(ROWS, {}, {"model": "m", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "NO_SUCH_KEY"},
                        tmp_path / "c.sqlite", tmp_path / "j.jsonl", progress=False)


def test_the_reasoning_run_calls_the_judge_when_configured(small_config, tmp_path, monkeypatch, zoo):
    from benchmarks.cli import run_and_rank
    from benchmarks.spec.config import load_config

    monkeypatch.setenv("JUDGE_KEY", KEY)
    with FakeChatServer(answer=_verdicts, expected_key=KEY) as server:
        path = small_config(tasks=["reasoning"], models=[{"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}],
                            judge={"model": "judge-1", "base_url": server.base_url, "api_key_env": "JUDGE_KEY"})
        _, board = run_and_rank(load_config(path))
    judged = [json.loads(line) for line in
              (tmp_path / "out" / "runs" / "clip" / "reasoning" / "judge.jsonl").read_text().splitlines()]
    predictions = [json.loads(line) for line in
                   (tmp_path / "out" / "runs" / "clip" / "reasoning" / "predictions.jsonl").read_text().splitlines()]
    assert [j["id"] for j in judged] == [p["id"] for p in predictions]
    expected = sum(p["gold"] in p["raw"] for p in predictions) / len(predictions)
    (row,) = board
    assert row["judge"]["consistent_rate"] == pytest.approx(expected) and row["judge"]["judged"] == len(predictions)
    assert row["accuracy"] == pytest.approx(sum(p["pred"] == p["gold"] for p in predictions) / len(predictions))
