"""``emovit curate`` help stays light: no FiftyOne, torch, transformers, datasets or openai imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "fiftyone", "openai", "datasets", "bson", "pymongo")


@pytest.mark.parametrize("argv", [["curate", "--help"], ["curate", "load", "--help"], ["curate", "app", "--help"],
                                  ["curate", "decisions", "--help"]])
def test_curate_help_imports_no_heavy_library(argv):
    code = (
        "import sys\n"
        "from builder.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "usage: emovit curate" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_top_level_help_lists_curate():
    result = subprocess.run([sys.executable, "-m", "builder.cli", "--help"], capture_output=True, text=True,
                            check=False)
    assert "curate" in result.stdout and "FiftyOne" in result.stdout
