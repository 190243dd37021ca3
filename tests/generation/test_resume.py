"""Kill a generation run half-way (SIGKILL, a real subprocess) and resume it: no item already answered is
requested again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from builder.generation import GenerationConfig, get_generator

N_ITEMS = 40
IN_FLIGHT = 2
KILL_AFTER = 10  # answered requests

# Shared by the subprocess and the rerun, so both build the very same items and config.
SETUP = f"""
from builder.generation import GenerationConfig, GenerationItem
from builder.sources.records import SourceRecord

def make_items():
    return [GenerationItem(SourceRecord(id=f"r{{i:03d}}", split="train", emotion="awe", image_path=f"/img/r{{i:03d}}.jpg",
                                        annotation_path="a.json", scene="glacier", objects=("Mountain",)),
                           f"a test picture item=r{{i:03d}}", "conversation")
            for i in range({N_ITEMS})]

def make_config(url, cache_dir, key_env):
    return GenerationConfig(base_url=url, api_key_env=key_env, cache_dir=cache_dir, max_in_flight={IN_FLIGHT},
                            max_retries=0, timeout_s=10.0)
"""
RUN = SETUP + """
import sys
from builder.generation import get_generator
outcome = get_generator("openai:fake-model", make_config(*sys.argv[1:4])).generate(make_items(), progress=False)
print("finished", len(outcome.records))
"""


def test_killed_run_resumes_without_repeating_requests(chat_server, api_key, tmp_path):
    server = chat_server(latency_s=0.15, expected_key=api_key.value)
    cache_dir = tmp_path / "cache"
    env = dict(os.environ, **{api_key.env: api_key.value})
    process = subprocess.Popen([sys.executable, "-c", RUN, server.base_url, str(cache_dir), api_key.env],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while server.answered < KILL_AFTER and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    answered_at_kill = server.answered
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    assert b"finished" not in stdout
    assert KILL_AFTER <= answered_at_kill < N_ITEMS
    assert api_key.value.encode() not in stdout + stderr

    # Every response the client received before the kill is committed (all but those still in flight).
    with sqlite3.connect(cache_dir / "responses.sqlite") as db:
        done = {item.rsplit("-", 1)[0] for (item,) in db.execute("SELECT item FROM responses")}
    assert answered_at_kill - IN_FLIGHT <= len(done) <= answered_at_kill
    assert all(server.requests[item] == 1 for item in done)

    namespace: dict = {}
    exec(SETUP, namespace)  # noqa: S102 - our own constant, shared with the subprocess
    before = dict(server.requests)
    config: GenerationConfig = namespace["make_config"](server.base_url, str(cache_dir), api_key.env)
    outcome = get_generator("openai:fake-model", config).generate(namespace["make_items"](), progress=False)

    sent = {item: server.requests[item] - before.get(item, 0) for item in server.requests}
    assert all(sent[item] == 0 for item in done)  # zero requests for items already answered
    assert sum(sent.values()) == N_ITEMS - len(done) == outcome.usage.requests
    assert outcome.usage.cached == len(done)
    assert outcome.quarantined == []
    assert len({r.image_id for r in outcome.records}) == N_ITEMS
    assert len(outcome.records) == 2 * N_ITEMS
    for path in cache_dir.iterdir():
        assert api_key.value.encode() not in path.read_bytes()
