"""The ``openai`` adapter through ``emovit bench``: a dry run prices the run before anything is sent, the run's
``config.json`` holds what it cost (``--price…`` options), planted faults end as parse failures or retries, a
rerun sends zero requests, and the run key ignores prices but not the endpoint."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from schemas.protocol import CATEGORICAL_INSTRUCTION
from tests.support.fake_openai import FakeChatServer

KEY_ENV, KEY = "EMOVIT_TEST_API_KEY", "sk-test-SECRET-bench-555"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    server = FakeChatServer(expected_key=KEY, answer=lambda item, request: "Predict emotion: awe").start()
    yield server
    server.stop()


def _config(tmp_path, server, bench_build, **options) -> str:
    entry = {"name": "api", "adapter": "openai", "path": "fake-vlm", "base_url": server.base_url, "mode": "generate",
             "options": {"api_key_env": KEY_ENV, "detail": "low", "max_retries": 2, "backoff_base_s": 0.01,
                         **options}}
    document = {"name": "api", "out": str(tmp_path / "out"), "data": {"build": str(bench_build)},
                "tasks": ["emoset8", "emoset2"], "batch_size": 8, "progress": False, "models": [entry]}
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def test_dry_run_then_run_then_rerun(tmp_path, fake, bench_build, capsys):
    from builder.cli import main

    config = _config(tmp_path, fake, bench_build)
    prices = ["--price-per-million-input", "2", "--price-per-million-output", "8"]
    # 32 test images; each: the instruction at 4 characters a token, 4 + 3 chat tokens, 85 tokens at detail low
    per_image = math.ceil(len(CATEGORICAL_INSTRUCTION) / 4) + 4 + 3 + 85
    assert main(["bench", "run", "--config", config, "--dry-run", *prices]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("api "))
    assert row.split() == ["api", "emoset8", "generate", "32", "0", "32", f"{32 * per_image:,}", f"{32 * 12:,}",
                           f"{(32 * per_image * 2 + 32 * 12 * 8) / 1e6:.4f}"]
    assert "prices: api: $2 / $8 per million tokens (given)" in out
    assert fake.total_requests == 0

    assert main(["bench", "run", "--config", config, *prices]) == 0
    assert fake.total_requests == 32
    run = tmp_path / "out" / "runs" / "api" / "emoset8"
    document = json.loads((run / "config.json").read_text())
    assert document["cost"] == {"requests": 32, "retries": 0, "answered": 32, "cached": 0, "failed": 0,
                                "prompt_tokens": 3200, "completion_tokens": 1600,
                                "cost_usd": pytest.approx(32 * (100 * 2 + 50 * 8) / 1e6), "model": "fake-vlm",
                                "endpoint": fake.base_url.removeprefix("http://"), "detail": "low",
                                "prices": {"input_per_million": 2.0, "output_per_million": 8.0, "source": "given"}}
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert {r["pred"] for r in rows} == {"awe"} and len(rows) == 32

    # rerun: finished runs are not loaded again; with the predictions gone, the cache answers every image
    assert main(["bench", "run", "--config", config, *prices]) == 0
    for path in (tmp_path / "out" / "runs").rglob("predictions.jsonl"):
        path.unlink()
    assert main(["bench", "run", "--config", config]) == 0
    assert fake.total_requests == 32
    assert json.loads((run / "config.json").read_text())["cost"]["cached"] == 32
    assert main(["bench", "run", "--config", config, "--dry-run"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("api "))
    assert row.split()[3:6] == ["32", "32", "0"]  # all cached, nothing to send
    files = [p for p in tmp_path.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert files == []


def test_faults_and_costs_accumulate_over_sessions(tmp_path, fake, bench_build):
    """Unusable answers are parse failures; a request still failing after its retries stops the run, and the
    next session scores only the rest, adding its cost to what the first session recorded."""
    from benchmarks.run.runner import run_bench
    from benchmarks.spec.config import load_config
    from emovit_model.scorers.api import encode_image
    from tests.support.fake_openai import image_item

    config = load_config(_config(tmp_path, fake, bench_build, price_per_million_input=1.0,
                                 price_per_million_output=1.0), ["tasks=[emoset8]"])
    from benchmarks.data.samples import task_samples
    from benchmarks.run.prepare import prepare_data, processes
    from benchmarks.spec.task import load_task

    samples = task_samples(load_task("emoset8"), prepare_data(config, tmp_path / "out", processes("cpu")))[0]

    def item(index):
        import base64

        return image_item(base64.b64decode(encode_image(samples[index].image).url.split(",", 1)[1]))

    fake.script = {item(0): [{"status": 429, "retry_after": "0"}], item(1): [{"content": "no idea"}],
                   item(2): [{"refusal": "I won't."}], item(9): [{"status": 500}] * 3}
    with pytest.raises(Exception, match="1 request\\(s\\) got no answer after 2 retries"):
        run_bench(config)
    run = tmp_path / "out" / "runs" / "api" / "emoset8"
    first = json.loads((run / "config.json").read_text())["cost"]
    # batch 1: 8 requests + image 0's retry; batch 2: 8 requests + image 9's two retries, then the run stops
    assert (first["requests"], first["retries"], first["answered"], first["failed"]) == (8 + 1 + 8 + 2, 3, 15, 1)
    run_bench(config)
    rows = {r["id"]: r for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())}
    assert [rows[s.id]["pred"] for s in samples[:3]] == ["awe", None, None]
    assert [rows[s.id]["raw"] for s in samples[1:3]] == ["no idea", "I won't."]
    total = json.loads((run / "config.json").read_text())["cost"]
    # session 2: batch 2 again (7 answers from the cache, image 9 sent once more), then batches 3 and 4
    assert (total["answered"], total["cached"], total["requests"]) == (32, 7, first["requests"] + 1 + 16)
    assert total["cost_usd"] == pytest.approx(32 * 150 / 1e6)


def test_the_run_key_ignores_prices_and_concurrency_but_not_the_endpoint_or_detail():
    from benchmarks.adapters import ADAPTERS

    adapter = ADAPTERS.load("openai")
    options = {"detail": "low", "max_in_flight": 32, "price_per_million_input": 9.0, "timeout_s": 5}
    assert adapter.key_options(options) == {"detail": "low"}
    assert adapter.identity("gpt-4o", {"base_url": "http://127.0.0.1:8000/v1"}) == "openai:127.0.0.1:8000/v1/gpt-4o"
    assert adapter.identity("gpt-4o", {}) == "openai:api.openai.com/v1/gpt-4o"


def test_unknown_options_are_one_line(tmp_path):
    from benchmarks.adapters import ADAPTERS
    from schemas.errors import UsageError

    with pytest.raises(UsageError, match="adapter openai: unknown option\\(s\\) clip_prompts; allowed: normalise"):
        ADAPTERS.load("openai").load("gpt-4o", options={"clip_prompts": ["x"]}, entry={}, workdir=tmp_path)
