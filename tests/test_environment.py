"""The suite runs the same whatever ``OPENAI_*``, ``HF_*`` or ``EMOVIT_*`` variables its caller has set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLER = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-caller-key",
          "HF_TOKEN": "hf_caller_token", "HF_ENDPOINT": "http://127.0.0.1:9", "EMOVIT_CACHE": "/nonexistent/cache"}


def test_no_variable_of_the_caller_is_visible_to_a_test():
    visible = sorted(name for name in os.environ if name.startswith(("OPENAI_", "HF_", "HUGGINGFACE_", "EMOVIT_")))
    assert set(visible) <= {"HF_HOME", "EMOVIT_CACHE", "EMOVIT_TEST_ARTIFACTS", "EMOVIT_BENCH_SCALE"}, visible
    assert os.environ["EMOVIT_CACHE"] != CALLER["EMOVIT_CACHE"]
    assert Path(os.environ["HF_HOME"]).parent == Path(os.environ["EMOVIT_CACHE"]).parent


def test_an_endpoint_set_by_the_caller_does_not_change_the_tests(tmp_path):
    """``OPENAI_BASE_URL`` (set by anyone using vLLM, Ollama or a proxy) once failed an adapter test."""
    tests = ["tests/harness/test_api_adapter.py::test_the_run_key_ignores_prices_and_concurrency_but_not_the_endpoint_or_detail",
             "tests/test_environment.py::test_no_variable_of_the_caller_is_visible_to_a_test"]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                            check=False, cwd=ROOT, env=dict(os.environ, **CALLER), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
