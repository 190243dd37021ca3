import json
import subprocess
import sys

import pytest

from builder.cli import main
from tests.support.reading import read_quarantine

HEAVY = ("torch", "transformers", "fiftyone", "openai", "datasets", "bson", "pymongo")


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["synth", "--help"], ["build", "--help"],
                                  ["train", "--help"], ["zoo", "--help"], ["bench", "--help"], ["curate", "--help"],
                                  ["curate", "load", "--help"], ["curate", "app", "--help"],
                                  ["curate", "decisions", "--help"]])
def test_help_does_not_import_heavy_libraries(argv):
    code = (
        "import sys\n"
        "from builder.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: emovit" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_top_level_help_lists_every_command():
    from builder.cli import COMMANDS

    result = run_cli("--help")
    listed = [line.split()[0] for line in result.stdout.split("commands:")[1].splitlines() if line.startswith("  ")]
    assert listed == list(COMMANDS) and {"curate", "bench"} <= set(listed)


def test_version_is_the_installed_distributions():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout == f"emovit {version('emovit')}\n"


def test_unknown_command_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_validate_writes_report_and_quarantine(small_tree, tmp_path):
    entries = json.loads((small_tree / "train.json").read_text())
    (small_tree / entries[0][1]).unlink()
    out = tmp_path / "report"
    result = run_cli("validate", "--emoset-root", str(small_tree), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "23 records" not in result.stdout  # totals are over all splits
    assert "71 records, 1 quarantined of 72 entries" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["splits"]["train"] | {"emotions": None} == {
        "inputs": 24, "kept": 23, "quarantined": 1, "balanced": True, "emotions": None,
        "quarantine_codes": {"missing_image": 1},
    }
    assert report["totals"] == {"inputs": 72, "kept": 71, "quarantined": 1}
    assert report["config"]["emoset_root"] == str(small_tree)
    assert len(report["fingerprint"]) == 16
    (row,) = read_quarantine(out / "quarantine.jsonl")
    assert row["code"] == "missing_image" and row["source"] == entries[0][1] and row["stage"] == "source"


@pytest.mark.parametrize(("setup", "needle"), [
    ("missing_root", "EmoSet root not found"),
    ("malformed_split", "test.json: malformed split file"),
    ("no_info", "info.json: missing"),
])
@pytest.mark.parametrize("quiet", [True, False])
def test_unusable_input_is_one_line_and_exit_code_2(small_tree, setup, needle, quiet):
    """With or without progress bars: the error line alone, no empty bar before it."""
    args = ["validate", "--emoset-root", str(small_tree), *(["--quiet"] if quiet else [])]
    if setup == "missing_root":
        args[2] = str(small_tree / "absent")
    elif setup == "malformed_split":
        (small_tree / "test.json").write_text("{")
    else:
        (small_tree / "info.json").unlink()
        args.append("--no-vocab-fallback")
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr


def test_synth_split_file_problems_are_one_line_errors(tmp_path):
    (tmp_path / "broken.json").write_text("[[\"awe\", ")
    (tmp_path / "object.json").write_text("{}")
    for name, message in (("missing.json", "cannot read split file (No such file or directory)"),
                          ("broken.json", "split file is not valid JSON"),
                          ("object.json", "expected a JSON list of 3- or 4-field entries")):
        result = run_cli("synth", "--out", str(tmp_path / "t"), "--split-file", str(tmp_path / name), "--quiet")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"emovit synth: error: {tmp_path / name}: {message}")
    result = run_cli("synth", "--out", str(tmp_path / "t"), "--per-class", "-1")
    assert (result.returncode, result.stderr.strip()) == (2, "emovit synth: error: per_class must be >= 0, got -1")


def test_synth_command_writes_a_tree(tmp_path):
    result = run_cli("synth", "--out", str(tmp_path / "t"), "--per-class", "1", "--splits", "train", "--quiet",
                     "--image-size", "8")
    assert result.returncode == 0, result.stderr
    assert "train=8" in result.stdout
    assert len(json.loads((tmp_path / "t" / "train.json").read_text())) == 8
