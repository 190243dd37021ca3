import json
import os
import subprocess
import sys

import datasets

from builder.generation.fake_server import FakeChatServer

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
