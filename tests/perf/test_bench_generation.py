"""Generation throughput against a loopback chat-completions server with a fixed 200 ms latency.

The server runs in its own process (``python -m tests.support.fake_openai``), as a real endpoint
would. With 32 requests in flight the ideal is 32 / 0.2 s = 160 requests/s; the backend must reach 80% of
that (128/s). The one-at-a-time baseline (how the original scripts worked) is ideally 5 requests/s.

    .venv/bin/python -m pytest tests/perf/test_bench_generation.py --benchmark-enable -q
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.generation import GenerationConfig, GenerationItem, get_generator
from builder.sources.records import SourceRecord

LATENCY_S = 0.2
IN_FLIGHT = 32
CONCURRENT_REQUESTS = 320
SEQUENTIAL_REQUESTS = 25
ROUNDS = 5
KEY_ENV = "EMOVIT_BENCH_API_KEY"
#: The checkout root, from which ``python -m tests.support.fake_openai`` runs.
REPOSITORY = Path(__file__).resolve().parents[2]


def _items(prefix: str, count: int) -> list[GenerationItem]:
    return [GenerationItem(SourceRecord(id=f"{prefix}{i:04d}", split="train", emotion="contentment",
                                        image_path=f"/bench/{prefix}{i:04d}.jpg", annotation_path="a.json",
                                        brightness=0.6, colorfulness=0.5, scene="lake", objects=("Boat",)),
                           f"a boat on a lake item={prefix}{i:04d}", "conversation")
            for i in range(count)]


@pytest.fixture(scope="module")
def server_url():
    process = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai", "--latency", str(LATENCY_S)],
                               stdout=subprocess.PIPE, text=True, cwd=REPOSITORY)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), "fake server did not start"
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _timed_run(url: str, cache_dir, items, in_flight: int) -> float:
    config = GenerationConfig(base_url=url, api_key_env=KEY_ENV, cache_dir=str(cache_dir), max_in_flight=in_flight,
                              max_retries=0, timeout_s=30.0)
    start = time.perf_counter()
    outcome = get_generator("openai:bench-model", config).generate(items, progress=False)
    elapsed = time.perf_counter() - start
    assert outcome.usage.requests == len(items) and outcome.usage.cached == 0 and not outcome.quarantined
    return len(items) / elapsed


def test_generation_throughput(benchmark, server_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV, "sk-bench-not-a-real-key")
    _timed_run(server_url, tmp_path / "warm", _items("warm", 4), 4)  # imports, prompt files, first connection

    sequential = _timed_run(server_url, tmp_path / "seq", _items("seq", SEQUENTIAL_REQUESTS), 1)

    rates: list[float] = []
    rounds = iter(range(ROUNDS))

    def setup():
        n = next(rounds)
        return (server_url, tmp_path / f"round{n}", _items(f"c{n}-", CONCURRENT_REQUESTS), IN_FLIGHT), {}

    def run(*args):
        rates.append(_timed_run(*args))

    benchmark.pedantic(run, setup=setup, rounds=ROUNDS, iterations=1)

    best, median = max(rates), statistics.median(rates)
    ideal = IN_FLIGHT / LATENCY_S
    benchmark.extra_info.update({
        "latency_s": LATENCY_S, "in_flight": IN_FLIGHT, "concurrent_requests": CONCURRENT_REQUESTS,
        "concurrent_requests_per_s_best": round(best, 1), "concurrent_requests_per_s_median": round(median, 1),
        "concurrent_requests_per_s_rounds": [round(r, 1) for r in rates],
        "sequential_requests": SEQUENTIAL_REQUESTS, "sequential_requests_per_s": round(sequential, 2),
        "speedup": round(best / sequential, 1), "fraction_of_ideal": round(best / ideal, 3),
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
    })
    with capsys.disabled():
        print(f"\ngeneration throughput at {LATENCY_S * 1000:.0f} ms latency: "
              f"{IN_FLIGHT} in flight {best:.1f} req/s (median {median:.1f}, rounds "
              f"{', '.join(f'{r:.1f}' for r in rates)}; ideal {ideal:.0f}) vs one at a time {sequential:.2f} req/s "
              f"-> {best / sequential:.1f}x (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
    assert 0.8 * (1 / LATENCY_S) <= sequential <= 1 / LATENCY_S * 1.05
    assert best >= 0.8 * ideal, f"{best:.1f} requests/s < 80% of the ideal {ideal:.0f}"
