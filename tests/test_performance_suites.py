"""The performance suites live in ``tests/perf``, outside the installed packages, and run only when measuring;
their memory probe reads the measured process's own peak, never its parent's."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.memory import measured_run

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "builder", "emovit_model", "benchmarks")


def _collect(*options: str) -> str:
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                             "tests/perf", *options], check=False, cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    return result.stdout


def test_the_performance_suites_are_left_out_unless_measuring():
    default = _collect()
    left_out = re.search(r"no tests collected \((\d+) deselected\)", default)
    assert left_out, default[-2000:]
    measuring = _collect("--benchmark-enable", "-m", "perf")
    collected = re.search(r"(\d+) tests? collected", measuring)
    assert collected, measuring[-2000:]
    assert int(collected.group(1)) == int(left_out.group(1)) >= 30
    assert "tests/perf/test_bench_build.py::test_build_peak_memory_is_flat" in measuring


@pytest.mark.parametrize("package", PACKAGES)
def test_no_test_code_lies_in_an_installed_package(package):
    spec = importlib.util.find_spec(package)
    found = [path.relative_to(ROOT).as_posix() for location in spec.submodule_search_locations
             for path in Path(location).rglob("*")
             if re.fullmatch(r"test_.*\.py|conftest\.py", path.name) or (path.is_dir() and path.name == "tests")]
    assert found == []


def test_a_measured_process_reports_its_own_peak_not_its_parents():
    ballast = b"\x01" * (256 << 20)  # this process now holds 256 MiB more than the measured one ever will
    lines, peak = measured_run("import resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")
    del ballast
    assert peak < 128  # a bare interpreter
    assert int(lines[0]) >= 256  # what getrusage says in that process: the parent's peak, carried over exec
