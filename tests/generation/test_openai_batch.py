"""The Batch API backend (``openai-batch:``) against a loopback Files + Batches server.

The real ``openai`` client talks HTTP to :class:`~tests.support.fake_batches.FakeBatchServer`, which checks
input files as the real API does and answers in its output and error file shapes. Items carry ``item=<key>``
in their caption so the server can run each item's script.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.generation import GenerationConfig, GenerationItem, batch_state, get_generator
from builder.generation.batch_state import BatchState
from builder.generation.cache import endpoint_id
from tests.support.fake_batches import FakeBatchServer
from tests.support.fake_openai import default_answer
from tests.support.reading import read_quarantine

ROOT = Path(__file__).resolve().parents[2]
UNPARSEABLE = "I would rather talk about turtles."


def _items(records, keys, kind="conversation"):
    return [GenerationItem(record, f"a test picture item={key}", kind) for record, key in zip(records, keys)]


def _config(base_url, api_key, tmp_path, **options) -> GenerationConfig:
    values = {"base_url": base_url, "api_key_env": api_key.env, "cache_dir": tmp_path / "cache", "max_retries": 2,
              "timeout_s": 5.0, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    values.update(options)
    return GenerationConfig(**values)


@pytest.fixture
def batch_server():
    """Factory of started loopback Files + Batches servers (stopped at teardown)."""
    servers: list[FakeBatchServer] = []

    def start(**options) -> FakeBatchServer:
        server = FakeBatchServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _files_containing(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def _without_backend(record) -> dict:
    row = record.to_row()
    row["generator"] = {k: v for k, v in row["generator"].items() if k != "backend"}
    return row


def test_a_completed_batch_gives_what_openai_gives_at_half_the_price(source_records, batch_server, chat_server,
                                                                     api_key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    keys = [f"c{i}" for i in range(8)]
    items = _items(source_records[:8], keys) + [GenerationItem(source_records[0], "x item=c0", "categorical")]
    sync_messages: dict[str, list] = {}

    def recording(item, request):
        sync_messages[item] = request["messages"]
        return default_answer(item, request)

    server = batch_server(expected_key=api_key.value)
    generator = get_generator("openai-batch:gpt-4o-mini", _config(server.base_url, api_key, tmp_path))
    outcome = generator.generate(items, progress=False)
    sync = get_generator("openai:gpt-4o-mini", _config(chat_server(answer=recording).base_url, api_key,
                                                       tmp_path / "sync")).generate(items, progress=False)

    # One input file of one JSONL line per request, in the Batch API's line shape.
    assert [u["lines"] for u in server.uploads] == [8] and len(server.created) == 1
    batch = server.batches[server.created[0]]
    assert (batch["endpoint"], batch["completion_window"], batch["status"]) == ("/v1/chat/completions", "24h",
                                                                                "completed")
    assert server.retrieves == 3  # validating -> in_progress -> finalizing -> completed, one step per poll
    lines = [m for m in caplog.messages if m.startswith(f"batch {batch['id']}: ")]  # what the client saw
    assert lines[0].endswith("8 requests from " + server.uploads[0]["filename"] + " submitted (validating)")
    assert [line.split(": ")[1].split(" ")[0] for line in lines[1:]] == ["in_progress", "finalizing", "completed"]
    lines = [json.loads(line) for line in (server.folder / f"{server.uploads[0]['id']}.jsonl").read_text().splitlines()]
    assert [sorted(line) for line in lines] == [["body", "custom_id", "method", "url"]] * 8
    assert {(line["method"], line["url"]) for line in lines} == {("POST", "/v1/chat/completions")}
    assert all(len(line["custom_id"]) == 64 for line in lines) and len({line["custom_id"] for line in lines}) == 8
    assert {line["body"]["model"] for line in lines} == {"gpt-4o-mini"}
    assert all(line["body"]["response_format"]["type"] == "json_schema" for line in lines)

    # Same prompts and the same parsing as the synchronous backend.
    assert {key: bodies[0]["messages"] for key, bodies in server.bodies.items()} == sync_messages
    assert [_without_backend(r) for r in outcome.records] == [_without_backend(r) for r in sync.records]
    assert {r.generator.backend for r in outcome.records if r.kind == "conversation"} == {"openai-batch"}
    assert len(outcome.records) == 8 * 2 + 1 and not outcome.quarantined

    # Batch prices: half of gpt-4o-mini's list prices (0.15 / 0.60 per 1M) on 100 + 50 tokens per answer.
    usage = outcome.usage
    assert (usage.generations, usage.requests, usage.cached, usage.failed, usage.retries) == (8, 8, 0, 0, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (800, 400)
    assert usage.cost_usd == pytest.approx((800 * 0.075 + 400 * 0.30) / 1e6, abs=1e-12)
    assert sync.usage.cost_usd == pytest.approx(2 * usage.cost_usd, abs=1e-12)

    # A second run sends nothing and counts every answer as cached, at no cost.
    again = generator.generate(items, progress=False)
    assert len(server.uploads) == 1 and len(server.created) == 1
    assert (again.usage.requests, again.usage.cached, again.usage.cost_usd) == (0, 8, 0.0)
    assert [r.to_row() for r in again.records] == [r.to_row() for r in outcome.records]
    assert server.auth_failures == 0
    assert not _files_containing(tmp_path / "cache", api_key.value)
    assert api_key.value not in caplog.text


def test_failed_requests_are_retried_once_in_a_batch_of_just_those(source_records, batch_server, api_key, tmp_path,
                                                                    caplog):
    caplog.set_level(logging.DEBUG)
    script = {
        "r1": [{"status": 500}],                                     # non-200 response, then an answer
        "r2": [{"error": "server_error"}],                            # error line without a response
        "r3": [{"missing": True}],                                    # no line at all (partial output)
        "r4": [{"status": 500}, {"status": 503}],                     # fails twice: counted as failed
        "r5": [{"content": UNPARSEABLE}],                             # answered, but unusable: not retried
        "r6": [{"status": 400, "message": f"bad request from {api_key.value}"}] * 2,  # the key echoed back
    }
    keys = ["r0", *script, "r7"]
    server = batch_server(script=script, expected_key=api_key.value)
    generator = get_generator("openai-batch:gpt-4o-mini", _config(server.base_url, api_key, tmp_path))
    outcome = generator.generate(_items(source_records[:8], keys), progress=False)

    assert [u["lines"] for u in server.uploads] == [8, 5]  # the retry batch holds r1, r2, r3, r4, r6
    assert dict(server.runs) == {"r0": 1, "r1": 2, "r2": 2, "r3": 2, "r4": 2, "r5": 1, "r6": 2, "r7": 1}
    # the retry of a request refused with 400 asks for plain text (perhaps no structured output there)
    assert ["response_format" in body for body in server.bodies["r6"]] == [True, False]
    assert ["response_format" in body for body in server.bodies["r4"]] == [True, True]
    key_of = {f"{record.id}-conversation": key for record, key in zip(source_records, keys)}
    assert {key_of[q.id]: q.code for q in outcome.quarantined} == {"r4": "request_failed", "r5": "unparseable",
                                                                  "r6": "request_failed"}
    reasons = {key_of[q.id]: q.reason for q in outcome.quarantined}
    assert "no answer after 2 batch attempt(s); last error: HTTP 503: injected failure" in reasons["r4"]
    assert "[redacted]" in reasons["r6"] and api_key.value not in reasons["r6"]
    usage = outcome.usage
    assert (usage.generations, usage.requests, usage.retries, usage.failed, usage.cached) == (8, 13, 5, 3, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (6 * 100, 6 * 50)  # six answers arrived
    assert not _files_containing(tmp_path / "cache", api_key.value)
    assert api_key.value not in caplog.text

    # The failures were reported once; the next run gives them one more round (and counts it).
    server.script = {}
    again = generator.generate(_items(source_records[:8], keys), progress=False)
    assert [u["lines"] for u in server.uploads] == [8, 5, 2]
    assert (again.usage.requests, again.usage.cached, again.usage.failed) == (2, 6, 1)  # r5 stays unparseable


def test_failed_and_expired_batches_and_the_file_limits(source_records, batch_server, api_key, tmp_path,
                                                       monkeypatch):
    monkeypatch.setattr(batch_state, "MAX_REQUESTS_PER_FILE", 4)
    keys = [f"e{i}" for i in range(10)]
    # batch 1 (e0-e3) fails validation; batch 2 (e4-e7) expires after running one request; batch 3 (e8, e9)
    # is cancelled before running any; the retries go out in files of at most 4 requests again.
    server = batch_server(max_requests=4, batch_plans=[{"end": "failed"}, {"end": "expired", "process": 1},
                                                       {"end": "cancelled", "process": 0}])
    generator = get_generator("openai-batch:m", _config(server.base_url, api_key, tmp_path))
    outcome = generator.generate(_items(source_records[:10], keys), progress=False)
    assert [u["lines"] for u in server.uploads] == [4, 4, 2, 4, 4, 1]
    assert [server.batches[b]["status"] for b in server.created] == ["failed", "expired", "cancelled", "completed",
                                                                      "completed", "completed"]
    assert dict(server.runs) == {"e4": 1, **{k: 1 for k in keys if k != "e4"}}  # e4 ran in the expired batch
    expired = server.batches[server.created[1]]
    assert expired["request_counts"] == {"total": 4, "completed": 1, "failed": 3} and expired["output_file_id"]
    assert len(outcome.records) == 20 and not outcome.quarantined
    assert (outcome.usage.requests, outcome.usage.retries) == (19, 9)

    monkeypatch.setattr(batch_state, "MAX_REQUESTS_PER_FILE", 50_000)
    monkeypatch.setattr(batch_state, "MAX_BYTES_PER_FILE", int(server.uploads[0]["bytes"] / 4 * 2.5))
    limit = batch_state.MAX_BYTES_PER_FILE
    small = batch_server(max_bytes=limit)
    generator = get_generator("openai-batch:m", _config(small.base_url, api_key, tmp_path / "bytes"))
    outcome = generator.generate(_items(source_records[:10], keys), progress=False)
    assert [u["lines"] for u in small.uploads] == [2, 2, 2, 2, 2] and max(u["bytes"] for u in small.uploads) <= limit
    assert len(outcome.records) == 20


def test_a_lost_create_answer_and_a_dead_run_s_upload_are_adopted_never_resent(source_records, batch_server,
                                                                              api_key, tmp_path):
    from openai import OpenAI

    keys = [f"a{i}" for i in range(3)]
    server = batch_server(drop_create_answers=1)
    generator = get_generator("openai-batch:m", _config(server.base_url, api_key, tmp_path))
    outcome = generator.generate(_items(source_records[:3], keys), progress=False)
    assert len(server.created) == 1 and len(outcome.records) == 6  # found in the batch list, not created twice

    # A run killed after uploading its file and starting the batch, before it could record the batch id.
    other = batch_server()
    config = _config(other.base_url, api_key, tmp_path / "dead")
    generator = get_generator("openai-batch:m", config)
    items = _items(source_records[3:6], ["d0", "d1", "d2"])
    folder = Path(config.cache_dir) / "batch-files"
    folder.mkdir(parents=True)
    path = folder / "dead-run-0001.jsonl"
    path.write_bytes(b"".join(batch_state.request_line(generator._prepared(item)[2],
                                                       generator.body(generator._prepared(item)[1]),
                                                       "/v1/chat/completions") for item in items))
    client = OpenAI(api_key=api_key.value, base_url=other.base_url)
    uploaded = client.files.create(file=path.open("rb"), purpose="batch")
    client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    state = BatchState(Path(config.cache_dir) / "batches.sqlite")
    endpoint = endpoint_id(other.base_url)
    state.start_file(str(path), endpoint, f"{socket.gethostname()}:999999999")  # a process that is gone
    for item in items:
        state.write(generator._prepared(item)[2], "x", endpoint, str(path), 0)
    state.commit()
    state.uploaded(str(path), uploaded.id)
    state.close()
    outcome = generator.generate(items, progress=False)
    assert len(other.uploads) == 1 and len(other.created) == 1 and len(outcome.records) == 6


@pytest.mark.slow
@pytest.mark.integration
def test_a_killed_build_resumes_by_polling_the_same_batch(small_tree_template, batch_server, tmp_path):
    """SIGKILL between submission and completion, then the same command: nothing new is submitted."""
    secret = "sk-test-SECRET-batch-7777"
    server = batch_server(hold=True, expected_key=secret)
    env = dict(os.environ, EMOVIT_TEST_KEY=secret, PYTHONPATH=str(ROOT))
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "builder.cli", "build", "--emoset-root", str(small_tree_template), "--config", "all",
            "--sampling", "all", "--splits", "val", "--generator", "openai-batch:gpt-4o-mini", "--base-url",
            server.base_url, "--api-key-env", "EMOVIT_TEST_KEY", "--cache-dir", str(cache), "--out",
            str(tmp_path / "out"), "--quiet", "--no-plots"]
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while server.retrieves == 0:  # the first poll comes after the batch id is committed
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the build never polled its batch"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    out, err = first.communicate(timeout=30)
    with sqlite3.connect(cache / "batches.sqlite") as db:
        assert db.execute("SELECT batch_id, status FROM files").fetchall() == [(server.created[0], "submitted")]
        assert db.execute("SELECT status, batch, COUNT(*) FROM requests GROUP BY status, batch").fetchall() == [
            ("submitted", server.created[0], 48)]
    server.release()

    second = subprocess.run(args, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert len(server.uploads) == 1 and len(server.created) == 1 and server.lines_submitted == 48
    assert dict(server.runs) == {"?": 48}  # attribute captions carry no item marker: every request ran once
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    usage = report["generation"]
    assert (usage["generations"], usage["requests"], usage["cached"], usage["failed"]) == (48, 48, 0, 0)
    assert usage["cost_usd"] == pytest.approx((4800 * 0.075 + 2400 * 0.30) / 1e6, abs=1e-12)
    assert usage["prices"] == {"input": 0.075, "output": 0.3, "unit": "USD per 1M tokens",
                               "source": "table of list prices as of 2026-03, Batch API: half"}
    assert report["splits"]["val"]["samples_per_kind"] == {"categorical": 24, "conversation": 48, "reasoning": 48}
    assert report["status"] == "ok"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in out + err + second.stdout + second.stderr
    assert not any((cache / "batch-files").iterdir())  # input files go once their requests are settled


def test_a_build_counts_twice_failed_requests_under_max_failure_rate(small_tree_template, batch_server, api_key,
                                                                     tmp_path):
    from builder.dataset.build import BuildConfig, build_dataset

    # every request carries the marker "?" (no item= in attribute captions), so the steps apply in processing
    # order: the first 6 of 48 requests fail, and 3 of them fail again in the retry batch
    server = batch_server(script={"?": [{"status": 500}] * 6 + [{}] * 42 + [{"status": 500}] * 3})
    generation = {"base_url": server.base_url, "api_key_env": api_key.env, "backoff_base_s": 0.01}
    config = BuildConfig(emoset_root=str(small_tree_template), config="all", sampling="all", splits=("val",),
                         generator="openai-batch:m", generation=generation)
    report = build_dataset(config, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, plots=False)
    assert [u["lines"] for u in server.uploads] == [48, 6]
    usage = report["generation"]
    assert (usage["generations"], usage["failed"], usage["requests"], usage["retries"]) == (48, 3, 54, 6)
    assert report["status"] == "failed"
    assert report["problem"] == "3 of 48 generations failed (6.2% > --max-failure-rate 5.0%)"
    failed = [r for r in read_quarantine(tmp_path / "out" / "quarantine.jsonl") if r["code"] == "request_failed"]
    assert len(failed) == 3 and all("2 batch attempt(s)" in r["reason"] for r in failed)


def test_dry_run_prints_the_batch_and_the_list_price(small_tree_template, tmp_path, capsys):
    import math
    import re

    from builder.dataset.config import BuildConfig
    from builder.dataset.dry_run import dry_run, print_estimate

    config = BuildConfig(emoset_root=str(small_tree_template), config="all", sampling="all", splits=("val",),
                         generator="openai-batch:gpt-4o-mini")
    print_estimate(dry_run(config, cache_dir=tmp_path / "cache"))
    lines = capsys.readouterr().out.strip().splitlines()
    tokens = re.search(r"~(\d+) prompt \+ ~(\d+) completion", lines[-1])
    prompt, completion = int(tokens.group(1)), int(tokens.group(2))
    batch = (prompt * 0.075 + completion * 0.30) / 1e6
    listed = (prompt * 0.15 + completion * 0.60) / 1e6
    assert lines[-1].startswith("dry run: 48 requests to send (0 answered from the cache)")
    assert lines[-1].endswith(f"estimated cost ${batch:.4f} at $0.075 / $0.3 per 1M tokens (table of list prices as "
                              "of 2026-03, Batch API: half); nothing was sent")
    assert lines[-3] == (f"the same requests cost ${listed:.4f} at list prices (openai:, synchronous) and "
                         f"${batch:.4f} at batch prices (openai-batch:, Batch API, answers within 24 h)")
    assert math.isclose(listed, 2 * batch)


def test_a_line_separator_inside_an_answer_keeps_its_result_line_whole(source_records, batch_server, api_key,
                                                                       tmp_path):
    """Result files are split on "\\n" only: a U+2028 that a server writes unescaped is just a character."""
    def answer(item, request):
        pairs = [{"question": f"What stands out in picture {item}?", "answer": "A quiet lake\u2028under a pale sky."},
                 {"question": "How does the scene feel?", "answer": "Calm:\u2029soft light and still water."}]
        return json.dumps({"qa": pairs}, ensure_ascii=False)

    server = batch_server(answer=answer)
    keys = [f"u{i}" for i in range(3)]
    outcome = get_generator("openai-batch:m", _config(server.base_url, api_key, tmp_path)).generate(
        _items(source_records[:3], keys), progress=False)
    output = server.files[server.batches[server.created[0]]["output_file_id"]]["path"]
    assert "\u2028" in Path(output).read_text(encoding="utf-8")  # written raw, not escaped
    assert len(server.created) == 1 and not outcome.quarantined and len(outcome.records) == 6
    assert any("\u2028" in turn["value"] for r in outcome.records for turn in r.conversations)
