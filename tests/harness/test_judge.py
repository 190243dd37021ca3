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
    assert {j["judge"] for j in judged} == {"judge-1"}
    expected = sum(p["gold"] in p["raw"] for p in predictions) / len(predictions)
    (row,) = board
    assert row["judge"]["consistent_rate"] == pytest.approx(expected) and row["judge"]["judged"] == len(predictions)
    assert row["accuracy"] == pytest.approx(sum(p["pred"] == p["gold"] for p in predictions) / len(predictions))


def test_a_run_with_two_judges_writes_both_into_judge_jsonl(small_config, tmp_path, monkeypatch, zoo):
    from benchmarks.run.runner import run_bench
    from benchmarks.score.judges import judge_row_keys
    from benchmarks.spec.config import load_config

    def answer(item: str, request: dict) -> str:
        return '{"verdict": "consistent"}' if request["model"] == "yes-man" else _verdicts(item, request)

    monkeypatch.setenv("JUDGE_KEY", KEY)
    with FakeChatServer(answer=answer, expected_key=KEY) as server:
        common = {"base_url": server.base_url, "api_key_env": "JUDGE_KEY"}
        path = small_config(tasks=["reasoning"], models=[{"name": "clip", "adapter": "clip", "path": str(zoo["clip"])}],
                            judge=[{"name": "strict", "model": "judge-1", **common}, {"model": "yes-man", **common}])
        run_bench(load_config(path), log=lambda _: None)
    run = tmp_path / "out" / "runs" / "clip" / "reasoning"
    judged = [json.loads(line) for line in (run / "judge.jsonl").read_text().splitlines()]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    ids = [p["id"] for p in predictions]
    assert [(j["judge"], j["id"]) for j in judged] == [("strict", i) for i in ids] + [("yes-man", i) for i in ids]
    consistent = sum(p["gold"] in p["raw"] for p in predictions)
    keys = judge_row_keys(judged)
    assert (keys["judge_1_name"], keys["judge_2_name"]) == ("strict", "yes-man")
    assert keys["judge_1_consistent_share"] == pytest.approx(consistent / len(ids))
    assert keys["judge_2_consistent_share"] == 1.0 and keys["judge_kappa_n"] == len(ids)
    # The second judge says "consistent" to everything: p_e = p1 * 1 + (1 - p1) * 0 = p1 and p_o = p1, so kappa
    # is 0 unless the first judge does too (then p_e = 1 and kappa is undefined).
    assert keys["judge_kappa"] == (None if consistent == len(ids) else pytest.approx(0.0))


# ---------------------------------------------------------------- several judges through the shared chat client
ANSWERS = [{"id": f"a{i}", "gold": "awe", "raw": f"Answer {i}: it evokes {'awe' if i % 2 else 'fear'}."}
           for i in range(6)] + [{"id": "a6", "gold": "awe", "raw": None}]


def _files_holding(root, secret: str) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes())


def _graded_answer(body: dict) -> str:
    return body["messages"][-1]["content"].split("Answer to grade:\n")[1]


def test_two_judges_send_concurrently_honour_retry_after_cache_and_keep_the_key_out(tmp_path, monkeypatch):
    import threading
    import time

    active, peak, lock = [0], [0], threading.Lock()

    def answer(item: str, request: dict) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.25)  # long enough for the other requests in flight to arrive meanwhile
        with lock:
            active[0] -= 1
        if request["model"] == "lenient-1":
            return f'{{"verdict": "consistent"}} (key seen: {KEY})'  # a server echoing the key
        return _verdicts(item, request)

    monkeypatch.setenv("JUDGE_KEY", KEY)
    judges = [{"name": "strict", "model": "strict-1", "max_in_flight": 3, "backoff_base_s": 0.01},
              {"model": "lenient-1", "max_in_flight": 3, "backoff_base_s": 0.01}]
    with FakeChatServer(answer=answer, expected_key=KEY, script={"?": [{"status": 429, "retry_after": "1"}]}) as server:
        for judge in judges:
            judge.update(base_url=server.base_url, api_key_env="JUDGE_KEY")
        started = time.monotonic()
        results = judge_reasoning(ANSWERS, {}, judges, tmp_path / "judge.sqlite", tmp_path / "judge.jsonl",
                                  progress=False)
        took = time.monotonic() - started
        sent = server.total_requests
        again = judge_reasoning(ANSWERS, {}, judges, tmp_path / "judge.sqlite", tmp_path / "judge.jsonl",
                                progress=False)
        assert server.total_requests == sent == 13  # 2 judges x 6 answers + the one 429; the rerun sent nothing
    # Concurrency: up to max_in_flight (3) requests in flight at once; twelve answers of 0.25 s each would take
    # 3 s one after the other, plus the 1 s Retry-After.
    assert peak[0] == 3
    assert took < 3.5
    # Retry-After: 1 honoured for the request answered 429 (the backoff alone would wait ~10 ms).
    (refused,) = [i for i, (_, _, status, _) in enumerate(server.log) if status == 429]
    retried = [i for i, (_, _, status, _) in enumerate(server.log)
               if i > refused and server.bodies[i] == server.bodies[refused]]
    assert server.log[retried[0]][0] - server.log[refused][0] >= 0.95
    # One file: the judges in config order, each in prediction order, every line naming its judge.
    lines = [json.loads(line) for line in (tmp_path / "judge.jsonl").read_text().splitlines()]
    assert lines == results == again
    assert [(r["judge"], r["id"]) for r in lines] == [(name, a["id"]) for name in ("strict", "lenient-1") for a in ANSWERS]
    assert [r["verdict"] for r in lines[:7]] == ["inconsistent", "consistent"] * 3 + [None]
    assert [r["verdict"] for r in lines[7:]] == ["consistent"] * 6 + [None]
    assert lines[7]["raw"] == '{"verdict": "consistent"} (key seen: [redacted])'
    assert _files_holding(tmp_path, KEY) == []


def test_a_dead_judge_endpoint_fails_fast_with_a_clear_error(tmp_path, monkeypatch):
    import socket
    import time

    from builder.generation.chat_client import EndpointUnreachable

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("JUDGE_KEY", KEY)
    rows = [{"id": f"d{i}", "gold": "awe", "raw": "awe"} for i in range(10)]
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable, match=rf"judge far \(judge-1\): cannot reach http://127.0.0.1:{port}/v1: "
                                                   r"8 connection attempts in a row got no answer"):
        judge_reasoning(rows, {}, [{"name": "far", "model": "judge-1", "base_url": f"http://127.0.0.1:{port}/v1",
                                    "api_key_env": "JUDGE_KEY"}],
                        tmp_path / "judge.sqlite", tmp_path / "judge.jsonl", progress=False)
    assert time.monotonic() - started < 5.0  # the default 5 retries with backoff would take minutes
    assert not (tmp_path / "judge.jsonl").exists()
    assert _files_holding(tmp_path, KEY) == []


def test_judge_settings_take_one_judge_or_a_list(tmp_path):
    from benchmarks.spec.config import judge_settings, validate

    base = {"out": str(tmp_path), "tasks": ["reasoning"], "models": [{"name": "m", "adapter": "clip"}]}
    assert judge_settings(validate({**base}, "c.yaml")) == []
    assert judge_settings(validate({**base, "judge": {"base_url": "http://127.0.0.1:1/v1"}}, "c.yaml")) == []
    assert judge_settings(validate({**base, "judge": {"model": "gpt-4o-mini"}}, "c.yaml")) == [
        {"model": "gpt-4o-mini", "name": "gpt-4o-mini"}]
    config = validate({**base, "judge": [{"model": "gpt-4o", "name": "strict", "max_in_flight": 4},
                                         {"model": "gpt-4o-mini"}]}, "c.yaml")
    assert judge_settings(config) == [{"model": "gpt-4o", "name": "strict", "max_in_flight": 4},
                                      {"model": "gpt-4o-mini", "name": "gpt-4o-mini"}]
    assert config.as_dict()["judge"][0]["name"] == "strict"


@pytest.mark.parametrize("judge, message", [
    ([{"model": "a"}, {"name": "b"}], r"judge\[1\]\.model must be the judge's model name"),
    ([{"model": "a", "colour": "red"}], r"judge\[0\]: unknown key\(s\) colour"),
    ({"model": "a", "colour": "red"}, r"judge: unknown key\(s\) colour"),
    ([{"model": "a"}, {"model": "a"}], r"judge names must be unique .*: a"),
    ([{"model": "a", "name": "x"}, {"model": "b", "name": "x"}], r"judge names must be unique .*: x"),
    ([{"model": "a", "max_retries": -1}], r"judge\[0\]: max_retries must be an integer >= 0"),
    ([{"model": "a", "api_key_env": "sk-secret value"}], r"judge\[0\]: api_key_env must be the NAME"),
    ([{"model": "a"}, "b"], r"judge\[1\] must be a mapping"),
    ("gpt-4o", r"'judge' must be a mapping \(one judge\) or a list of mappings"),
])
def test_judge_config_errors_name_the_field(tmp_path, judge, message):
    from benchmarks.spec.config import validate

    base = {"out": str(tmp_path), "tasks": ["reasoning"], "models": [{"name": "m", "adapter": "clip"}]}
    with pytest.raises(UsageError, match=message) as caught:
        validate({**base, "judge": judge}, "c.yaml")
    assert "sk-secret" not in str(caught.value)
