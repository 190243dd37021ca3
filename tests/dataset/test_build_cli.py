import json
import os
import sqlite3
import subprocess
import sys

import datasets
import pytest

from tests.support.fake_openai import FakeChatServer, default_answer
from tests.support.reading import read_quarantine

SECRET = "sk-test-SECRET-build-4242"


def emovit(*args, env=None):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_build_with_an_openai_compatible_server_reuses_every_cached_response(small_tree_template, tmp_path):
    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    with FakeChatServer() as server:
        args = ["build", "--emoset-root", str(small_tree_template), "--config", "reasoning", "--sampling", "all",
                "--splits", "val", "--generator", "openai:tiny-chat", "--base-url", server.base_url,
                "--api-key-env", "EMOVIT_TEST_KEY", "--cache-dir", str(tmp_path / "cache"), "--quiet"]
        first = emovit(*args, "--out", str(tmp_path / "first"), env=env)
        assert first.returncode == 0, first.stderr
        sent = server.total_requests
        assert sent == 24
        second = emovit(*args, "--out", str(tmp_path / "second"), env=env)
        assert second.returncode == 0, second.stderr
        assert server.total_requests == sent
    reports = [json.loads((tmp_path / name / "report.json").read_text()) for name in ("first", "second")]
    assert (reports[0]["generation"]["requests"], reports[0]["generation"]["cached"]) == (24, 0)
    assert (reports[1]["generation"]["requests"], reports[1]["generation"]["cached"]) == (0, 24)
    assert reports[0]["splits"]["val"]["content_hash"] == reports[1]["splits"]["val"]["content_hash"]
    assert "LLM requests 24 (cached 0, failed 0)" in first.stdout
    val = datasets.load_from_disk(str(tmp_path / "first"))["val"]
    assert set(val["kind"]) == {"reasoning"} and len(val) == 24 * 2
    assert {g["backend"] for g in val["generator"]} == {"openai"}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in first.stdout + first.stderr + second.stdout + second.stderr


def test_cli_build_prints_a_summary_and_fails_cleanly_on_a_bad_curation_file(small_tree_template, tmp_path):
    ok = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(tmp_path / "b"), "--config",
                "categorical", "--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-plots")
    assert ok.returncode == 0, ok.stderr
    header = ok.stdout.splitlines()[0].split()
    assert header[:3] == ["split", "entries", "images"]
    train_row = next(line.split() for line in ok.stdout.splitlines() if line.startswith("train"))
    assert train_row[1:3] == ["24", "24"]
    (tmp_path / "curation.json").write_text(json.dumps({"format": "emovit-curation/1",
                                                        "relabel": [{"id": "x", "emotion": "joy"}]}))
    bad = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(tmp_path / "c"),
                 "--curation", str(tmp_path / "curation.json"), "--cache-dir", str(tmp_path / "cache"), "--quiet")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"emovit build: error: {tmp_path / 'curation.json'}: relabel[0]: field 'emotion' 'joy' is not one of "
        "amusement, awe, contentment, excitement, anger, disgust, fear, sadness"]


def _llm_args(tree, server_url, *extra):
    return ["build", "--emoset-root", str(tree), "--config", "reasoning", "--sampling", "all", "--splits", "val",
            "--generator", "openai:tiny-chat", "--base-url", server_url, "--api-key-env", "EMOVIT_TEST_KEY",
            "--quiet", "--no-plots", *extra]


def _leftovers(folder):
    """Hidden staging folders a build may have left beside its output."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_misconfiguration_is_one_line_and_exit_2_before_any_work(small_tree_template, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EMOVIT_TEST_KEY"}
    out = tmp_path / "out"
    caption_file = tmp_path / "missing.jsonl"
    cases = {
        "missing key": (_llm_args(small_tree_template, "http://127.0.0.1:9/v1", "--out", str(out)),
                        "emovit build: error: environment variable EMOVIT_TEST_KEY is not set; it must hold the "
                        "API key for 127.0.0.1:9/v1"),
        "bogus generator": (["build", "--emoset-root", str(small_tree_template), "--out", str(out),
                             "--generator", "bogus"],
                            "emovit build: error: unknown generator 'bogus'; known: template (offline, deterministic "
                            "attribute-grounded phrasings (no network)); openai:<model> (any OpenAI-compatible "
                            "chat-completions endpoint (config.base_url, key from config.api_key_env)); "
                            "openai-batch:<model> (the same requests through the OpenAI Batch API: half the price, "
                            "answers within 24 h)"),
        "missing caption file": (["build", "--emoset-root", str(small_tree_template), "--out", str(out),
                                  "--captioner", f"file:{caption_file}"],
                                 f"emovit build: error: {caption_file}: caption file not found"),
        "bad option": (["build", "--emoset-root", str(small_tree_template), "--out", str(out),
                        "--categorical-range", "5:2"],
                       "emovit build: error: categorical_range must satisfy 0 <= start <= stop, got (5, 2)"),
    }
    for name, (args, message) in cases.items():
        result = emovit(*args, env=env)
        assert (result.returncode, result.stderr.strip().splitlines()) == (2, [message]), name
        assert not out.exists() and _leftovers(tmp_path) == [], name  # nothing was started


def test_an_existing_empty_out_is_fine_and_a_foreign_folder_is_refused(small_tree_template, tmp_path):
    args = ["build", "--emoset-root", str(small_tree_template), "--config", "categorical", "--splits", "val",
            "--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-plots"]
    (tmp_path / "empty").mkdir()
    assert emovit(*args, "--out", str(tmp_path / "empty")).returncode == 0
    assert datasets.load_from_disk(str(tmp_path / "empty"))["val"].num_rows == 24
    assert emovit(*args, "--out", str(tmp_path / "empty")).returncode == 0  # an earlier build is replaced
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    refused = emovit(*args, "--out", str(tmp_path / "notes"))
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"emovit build: error: {tmp_path / 'notes'}: exists, is not empty and is not a build directory; "
        "choose an empty or new --out"]
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine" and _leftovers(tmp_path) == []


def test_a_dead_endpoint_stops_early_keeps_answers_and_the_previous_build(small_tree_template, tmp_path):
    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    out, cache = tmp_path / "out", tmp_path / "cache"
    good = emovit("build", "--emoset-root", str(small_tree_template), "--out", str(out), "--config", "categorical",
                  "--quiet", "--no-plots", "--cache-dir", str(cache))
    assert good.returncode == 0
    before = (out / "report.json").read_bytes()
    # three answers, then the server goes away: every later connection is dropped without a reply
    with FakeChatServer(script={"?": [{}] * 3 + [{"drop": True}] * 100}) as server:
        url = server.base_url
        result = emovit(*_llm_args(small_tree_template, url, "--out", str(out), "--cache-dir", str(cache),
                                   "--max-in-flight", "1", "--max-retries", "0"), env=env)
        assert server.total_requests == 3 + 8  # stopped after 8 attempts in a row without an answer
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"emovit build: error: cannot reach {url}: 8 connection attempts in a row got no answer; "
        "the 3 response(s) received before stay in the response cache"]
    assert (out / "report.json").read_bytes() == before and _leftovers(tmp_path) == []
    with sqlite3.connect(cache / "responses.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone() == (3,)
    # the endpoint is back (same address: the cache is keyed by endpoint): the retry asks only for the rest
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with FakeChatServer().start(port) as server:
        again = emovit(*_llm_args(small_tree_template, url, "--out", str(out), "--cache-dir", str(cache)),
                       env=env)
        assert again.returncode == 0, again.stderr
        assert server.total_requests == 24 - 3
    assert json.loads((out / "report.json").read_text())["generation"]["cached"] == 3


def test_a_429_storm_is_waited_out_not_taken_for_a_dead_server(small_tree_template, tmp_path):
    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    with FakeChatServer(script={"?": [{"status": 429, "retry_after": "0"}] * 12}) as server:
        result = emovit(*_llm_args(small_tree_template, server.base_url, "--out", str(tmp_path / "out"),
                                   "--cache-dir", str(tmp_path / "cache"), "--max-in-flight", "1",
                                   "--max-retries", "12"), env=env)
        assert server.total_requests == 24 + 12
    assert result.returncode == 0, result.stderr
    usage = json.loads((tmp_path / "out" / "report.json").read_text())["generation"]
    assert (usage["requests"], usage["retries"], usage["failed"]) == (36, 12, 0)


def test_too_many_failed_generations_exit_1_with_the_report_written(small_tree_template, tmp_path):
    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    script = {"?": [{"content": "I would rather talk about turtles."}] * 3}  # unparseable: no QA pairs
    for limit, code in (("0.05", 1), ("0.2", 0)):
        with FakeChatServer(script={k: list(v) for k, v in script.items()}) as server:
            result = emovit(*_llm_args(small_tree_template, server.base_url, "--out", str(tmp_path / limit),
                                       "--cache-dir", str(tmp_path / f"cache-{limit}"), "--max-failure-rate", limit),
                            env=env)
        assert result.returncode == code, result.stderr
        report = json.loads((tmp_path / limit / "report.json").read_text())
        failed = [r for r in read_quarantine(tmp_path / limit / "quarantine.jsonl") if r["stage"] == "generation"]
        assert len(failed) == 3 == report["generation"]["failed"] and report["generation"]["generations"] == 24
        assert report["status"] == ("failed" if code else "ok")
    assert result.returncode == 0
    first = json.loads((tmp_path / "0.05" / "report.json").read_text())
    assert first["problem"] == "3 of 24 generations failed (12.5% > --max-failure-rate 5.0%)"


def test_dry_run_counts_and_prices_exactly_what_a_real_run_then_sends(small_tree_template, tmp_path):
    import math

    env = dict(os.environ, EMOVIT_TEST_KEY=SECRET)
    cache = tmp_path / "cache"
    sent: list[list[dict]] = []

    def recording_answer(item, request):
        sent.append(request["messages"])
        return default_answer(item, request)

    args = ["build", "--emoset-root", str(small_tree_template), "--config", "all", "--sampling", "all",
            "--splits", "val", "--generator", "openai:gpt-4o-mini", "--api-key-env", "EMOVIT_TEST_KEY",
            "--cache-dir", str(cache), "--quiet", "--no-plots"]
    with FakeChatServer(answer=recording_answer, prompt_tokens=100, completion_tokens=50) as server:
        dry = emovit(*args, "--base-url", server.base_url, "--dry-run", env=dict(os.environ))  # no key needed
        assert dry.returncode == 0, dry.stderr
        assert server.total_requests == 0 and not any(tmp_path.glob("out*"))
        real = emovit(*args, "--base-url", server.base_url, "--out", str(tmp_path / "out"),
                      "--price-per-million-input", "2", "--price-per-million-output", "8", env=env)
        assert real.returncode == 0, real.stderr
        again = emovit(*args, "--base-url", server.base_url, "--dry-run", env=dict(os.environ))
    assert len(sent) == 48  # 24 val images x (conversation + reasoning)

    def tokens(text):
        return math.ceil(len(text) / 4)

    prompt = sum(sum(tokens(m["content"]) + 4 for m in messages) + 3 for messages in sent)
    per_kind = {}
    for messages in sent:  # the in-context examples' answers are what the estimate expects back
        kind = "conversation" if "conversation" in messages[0]["content"].lower() else "reasoning"
        answers = [tokens(m["content"]) for m in messages if m["role"] == "assistant"]
        per_kind[kind] = round(sum(answers) / len(answers))
    completion = 24 * per_kind["conversation"] + 24 * per_kind["reasoning"]
    cost = (prompt * 0.15 + completion * 0.60) / 1e6
    summary = dry.stdout.strip().splitlines()[-1]
    assert summary == (f"dry run: 48 requests to send (0 answered from the cache), ~{prompt} prompt + ~{completion} "
                       f"completion tokens (chars estimate), estimated cost ${cost:.4f} at $0.15 / $0.6 per 1M tokens "
                       "(table of list prices as of 2026-03); nothing was sent")
    assert again.stdout.strip().splitlines()[-1].startswith("dry run: 0 requests to send (48 answered from the cache)")
    # the real run's cost uses the given prices and the tokens the server reported
    usage = json.loads((tmp_path / "out" / "report.json").read_text())["generation"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (48 * 100, 48 * 50)
    assert usage["cost_usd"] == pytest.approx((4800 * 2 + 2400 * 8) / 1e6, abs=1e-12)
    assert usage["prices"] == {"input": 2.0, "output": 8.0, "source": "given", "unit": "USD per 1M tokens"}
