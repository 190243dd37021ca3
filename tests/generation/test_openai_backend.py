"""The OpenAI-compatible backend against a loopback chat-completions server with injected faults.

The real ``openai`` client talks HTTP to :class:`~tests.support.fake_openai.FakeChatServer` on
127.0.0.1; every item carries ``item=<key>`` in its caption so the server can count requests per item and
serve that item's fault script.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from dataclasses import asdict

import pytest

from builder.generation import GenerationConfig, GenerationItem, get_generator
from builder.generation.cache import endpoint_id
from builder.generation.openai_backend import GenerationError, retry_after_seconds
from builder.sources.records import write_jsonl
from tests.support.reading import image_token_count

TRUNCATED_JSON = '{"qa": [{"question": "Where is'
TEXT_ANSWER = ("Question: What is in the picture?\nAnswer: A small dog on a rug.\n"
               "Question: Is it daytime?\nAnswer: Yes, sunlight fills the room.")
LEAKY = json.dumps({"qa": [{"question": "What mood?", "answer": "Based on the caption, it is calm."}]})

FAULTS = {
    "f1": [{"status": 429, "retry_after": "1"}],
    "f2": [{"status": 500}, {"status": 503}],
    "f3": [{"delay": 1.5}],
    "f4": [{"content": TRUNCATED_JSON}],
    "f5": [{"content": TEXT_ANSWER}],
    "f6": [{"content": ""}],
    "f7": [{"refusal": "I can't help with that request."}],
    "f8": [{"content": "I'm sorry, but I can't assist with this."}],
    "f9": [{"status": 500}, {"status": 502}, {"status": 500}],
    "f10": [{"body": '{"id": "x", "choices": [ {'}],
    "f11": [{"content": LEAKY}],
}
EXPECTED_REQUESTS = {"f0": 1, "f1": 2, "f2": 3, "f3": 2, "f4": 1, "f5": 1, "f6": 1, "f7": 1, "f8": 1, "f9": 3,
                     "f10": 1, "f11": 1}
EXPECTED_QUARANTINE = {"f4": "unparseable", "f6": "empty_response", "f7": "refusal", "f8": "refusal",
                       "f9": "request_failed", "f10": "malformed_response", "f11": "leakage"}


def _items(records, keys, kind="conversation"):
    return [GenerationItem(record, f"a test picture item={key}", kind) for record, key in zip(records, keys)]


def _config(server, api_key, tmp_path, **options) -> GenerationConfig:
    values = {"base_url": server.base_url, "api_key_env": api_key.env, "cache_dir": tmp_path / "cache",
              "max_in_flight": 4, "max_retries": 2, "timeout_s": 0.5, "backoff_base_s": 0.01, "backoff_max_s": 5.0,
              "price_per_million_input": 2.0, "price_per_million_output": 8.0}
    values.update(options)
    return GenerationConfig(**values)


def _files_containing(root, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_faults_retries_quarantine_and_no_key_anywhere(source_records, chat_server, api_key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server = chat_server(script=FAULTS, expected_key=api_key.value)
    keys = list(EXPECTED_REQUESTS)
    records = source_records[:len(keys)]
    key_of = {r.id: k for r, k in zip(records, keys)}
    items = _items(records, keys) + [GenerationItem(records[0], "a test picture item=f0", "categorical")]
    config = _config(server, api_key, tmp_path)
    outcome = get_generator("openai:fake-model", config).generate(items, progress=False)

    # Exactly the requests the fault scripts call for; retries counted by the generator.
    assert dict(server.requests) == EXPECTED_REQUESTS
    assert outcome.usage.requests == server.total_requests == 18
    assert outcome.usage.retries == 6
    assert outcome.usage.cached == 0

    # Every item ends in the output or in quarantine, with its reason code.
    quarantined = {key_of[q.id.rsplit("-", 1)[0]]: q for q in outcome.quarantined}
    assert {key: q.code for key, q in quarantined.items()} == EXPECTED_QUARANTINE
    assert all(q.stage == "generation" and q.split == "train" for q in outcome.quarantined)
    assert outcome.usage.failed == 7
    produced = {key_of[r.image_id] for r in outcome.records if r.kind == "conversation"}
    assert produced == {"f0", "f1", "f2", "f3", "f5"}
    assert produced | set(quarantined) == set(keys)
    assert [r.id for r in outcome.records if r.kind == "categorical"] == [f"{records[0].id}-categorical"]
    assert len(outcome.records) == 5 * 2 + 1  # split_turns: two single-QA samples per answered item

    # Raw responses are kept for review; the fallback parser read the plain-text answer.
    assert quarantined["f4"].raw == TRUNCATED_JSON
    assert quarantined["f7"].raw == "I can't help with that request."
    assert quarantined["f11"].raw == LEAKY and "the caption" in quarantined["f11"].reason
    assert "3 attempt(s)" in quarantined["f9"].reason and "HTTP 500" in quarantined["f9"].reason
    f5 = [r for r in outcome.records if key_of[r.image_id] == "f5"]
    assert [r.id for r in f5] == [f"{f5[0].image_id}-conversation-0", f"{f5[0].image_id}-conversation-1"]
    assert f5[0].conversations == ({"from": "human", "value": "<image>\nWhat is in the picture?"},
                                   {"from": "gpt", "value": "A small dog on a rug."})
    assert all(image_token_count(r.conversations) == 1 for r in outcome.records)
    assert {r.generator.backend for r in outcome.records if r.kind == "conversation"} == {"openai"}

    # Tokens from the ten HTTP 200 chat completions, and their cost at 2 / 8 USD per million tokens.
    assert (outcome.usage.prompt_tokens, outcome.usage.completion_tokens) == (1000, 500)
    assert outcome.usage.cost_usd == pytest.approx(10 * (100 * 2.0 + 50 * 8.0) / 1e6)

    # Retry-After was honoured (1 s) although the exponential backoff alone would wait ~10 ms.
    times = {key: [t for t, item, _, _ in server.log if item == key] for key in ("f1", "f2", "f3")}
    assert times["f1"][1] - times["f1"][0] >= 0.95
    assert max(b - a for a, b in zip(times["f2"], times["f2"][1:])) < 0.9
    assert all(had_format for _, _, _, had_format in server.log)  # structured output was asked for

    # The key reached the server (it answered 401 otherwise) and nothing else.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "records.jsonl").write_text(
        "".join(json.dumps(r.to_row()) + "\n" for r in outcome.records), encoding="utf-8")
    write_jsonl(tmp_path / "out" / "quarantine.jsonl", outcome.quarantined)
    (tmp_path / "out" / "run.json").write_text(json.dumps({"generation": config.to_dict(),
                                                           "usage": asdict(outcome.usage)}), encoding="utf-8")
    assert (tmp_path / "cache" / "responses.sqlite").is_file()
    assert _files_containing(tmp_path, api_key.value) == []
    assert _files_containing(tmp_path, "SECRET") == []
    messages = [record.getMessage() for record in caplog.records]
    assert any(record.name.startswith("openai") for record in caplog.records)  # the client's debug lines too
    assert any("retry 1/2" in m for m in messages)
    assert not any(api_key.value in m or "SECRET" in m for m in messages)
    assert api_key.value not in repr(get_generator("openai:fake-model", config))

    # A rerun answers the ten stored items from the cache and asks only for the two never answered
    # (their fault scripts are used up, so they succeed now).
    before = dict(server.requests)
    again = get_generator("openai:fake-model", config).generate(items, progress=False)
    sent = {key: server.requests[key] - before.get(key, 0) for key in keys if server.requests[key] != before.get(key)}
    assert sent == {"f9": 1, "f10": 1}
    assert (again.usage.requests, again.usage.cached, again.usage.retries) == (2, 10, 0)
    assert {key_of[q.id.rsplit("-", 1)[0]]: q.code for q in again.quarantined} == {
        k: v for k, v in EXPECTED_QUARANTINE.items() if k not in ("f9", "f10")}
    assert len(again.records) == 7 * 2 + 1
    assert again.usage.prompt_tokens == 200  # cached answers cost nothing again
    assert _files_containing(tmp_path, api_key.value) == []


def test_cache_key_ignores_the_api_key(source_records, chat_server, api_key, tmp_path, monkeypatch):
    server = chat_server()
    items = _items(source_records[:3], ["k0", "k1", "k2"])
    config = _config(server, api_key, tmp_path)
    first = get_generator("openai:fake-model", config).generate(items, progress=False)
    assert first.usage.requests == 3
    monkeypatch.setenv(api_key.env, "sk-test-ANOTHER-456")
    second = get_generator("openai:fake-model", config).generate(items, progress=False)
    assert (second.usage.requests, second.usage.cached) == (0, 3)
    assert [r.to_row() for r in second.records] == [r.to_row() for r in first.records]
    with sqlite3.connect(tmp_path / "cache" / "responses.sqlite") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(responses)")]
        assert "api_key" not in columns and len(db.execute("SELECT key FROM responses").fetchall()) == 3
    # A different model or sampling temperature is a different request.
    other = get_generator("openai:other-model", config).generate(items[:1], progress=False)
    assert other.usage.requests == 1
    warmer = _config(server, api_key, tmp_path, temperature=0.2)
    assert get_generator("openai:fake-model", warmer).generate(items[:1], progress=False).usage.requests == 1


def test_server_without_structured_output_falls_back_to_text(source_records, chat_server, api_key, tmp_path):
    server = chat_server(reject_response_format=True)
    items = _items(source_records[:3], ["s0", "s1", "s2"])
    outcome = get_generator("openai:fake-model", _config(server, api_key, tmp_path, max_in_flight=1)).generate(
        items, progress=False)
    # One rejected structured request, then plain requests only.
    assert [(item, status, had_format) for _, item, status, had_format in server.log] == [
        ("s0", 400, True), ("s0", 200, False), ("s1", 200, False), ("s2", 200, False)]
    assert outcome.usage.requests == 4 and outcome.quarantined == []
    assert len(outcome.records) == 6
    assert outcome.records[0].conversations[1]["value"] == "A quiet lake under a pale evening sky."


def test_split_turns_off_keeps_one_conversation(source_records, chat_server, api_key, tmp_path):
    server = chat_server()
    outcome = get_generator("openai:fake-model", _config(server, api_key, tmp_path, split_turns=False)).generate(
        _items(source_records[:2], ["c0", "c1"], kind="reasoning"), progress=False)
    assert [r.id for r in outcome.records] == [f"{r.id}-reasoning" for r in source_records[:2]]
    assert all(len(r.conversations) == 4 and image_token_count(r.conversations) == 1 for r in outcome.records)


def test_missing_key_stops_before_any_request(source_records, chat_server, tmp_path, monkeypatch):
    monkeypatch.delenv("EMOVIT_UNSET_KEY", raising=False)
    server = chat_server()
    config = GenerationConfig(base_url=server.base_url, api_key_env="EMOVIT_UNSET_KEY", cache_dir=tmp_path)
    with pytest.raises(GenerationError, match="EMOVIT_UNSET_KEY is not set"):
        get_generator("openai:fake-model", config).generate(_items(source_records[:1], ["m0"]), progress=False)
    assert server.total_requests == 0


def test_rejected_credentials_stop_the_run_without_echoing_the_key(source_records, chat_server, api_key, tmp_path):
    server = chat_server(expected_key="sk-test-OTHER-999")
    with pytest.raises(GenerationError) as caught:
        get_generator("openai:fake-model", _config(server, api_key, tmp_path, max_in_flight=1)).generate(
            _items(source_records[:3], ["a0", "a1", "a2"]), progress=False)
    assert "401" in str(caught.value) and api_key.env in str(caught.value)
    assert api_key.value not in str(caught.value) and api_key.value not in repr(caught.value)
    assert server.total_requests == 1  # fatal: no retries, no further items


def test_progress_bar_shows_counters(source_records, chat_server, api_key, tmp_path, capsys):
    server = chat_server(script={"p1": [{"content": ""}]})
    items = _items(source_records[:3], ["p0", "p1", "p2"])
    config = _config(server, api_key, tmp_path)
    get_generator("openai:fake-model", config).generate(items, progress=True)
    get_generator("openai:fake-model", config).generate(items, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "in_flight=" in err
    assert "failed=1" in err and "cached=3" in err


def test_generate_works_inside_a_running_event_loop(source_records, chat_server, api_key, tmp_path):
    server = chat_server()
    generator = get_generator("openai:fake-model", _config(server, api_key, tmp_path))

    async def caller():
        return generator.generate(_items(source_records[:2], ["e0", "e1"]), progress=False)

    assert len(asyncio.run(caller()).records) == 4


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
    assert endpoint_id("https://user:pw@API.example.org:8443/v1/") == "api.example.org:8443/v1"
