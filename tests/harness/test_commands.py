"""``emovit bench``'s subcommands, the importers and the exporters are tables in the project's one registry
dialect (:mod:`schemas.registry`): one line each, imported when used, an unknown name one line."""

from __future__ import annotations

import argparse

import pytest

from builder.cli import main
from schemas.errors import UsageError
from schemas.registry import Registry


def test_every_bench_command_is_one_line_naming_the_function_that_declares_it():
    from benchmarks.cli import COMMANDS

    assert isinstance(COMMANDS, Registry)
    assert list(COMMANDS) == ["run", "leaderboard", "import", "export", "publish", "leakage", "plan", "list"]
    for name, entry in COMMANDS.items():
        parser = argparse.ArgumentParser()
        entry.load()(parser)
        assert callable(parser.get_default("handler")), name
        assert entry.summary and not entry.summary.endswith("."), name


def test_bench_help_lists_the_commands_of_the_table(capsys):
    from benchmarks.cli import COMMANDS

    with pytest.raises(SystemExit) as stop:
        main(["bench", "--help"])
    assert stop.value.code == 0
    shown = capsys.readouterr().out
    assert "{" + ",".join(COMMANDS) + "}" in shown
    assert main(["bench", "list"]) == 0 and "emoset8" in capsys.readouterr().out


def test_importers_and_exporters_are_registries_of_the_same_tools():
    from benchmarks.interop.exporters import DEFAULT_NAMES, EXPORTERS
    from benchmarks.interop.importers import IMPORTERS
    from benchmarks.interop.importing import read_foreign

    assert isinstance(IMPORTERS, Registry) and isinstance(EXPORTERS, Registry)
    assert list(IMPORTERS) == list(EXPORTERS) == list(DEFAULT_NAMES) == ["lmms-eval", "vlmevalkit"]
    assert all(callable(IMPORTERS.load(name)) and callable(EXPORTERS.load(name)) for name in IMPORTERS)
    with pytest.raises(UsageError, match=r"^--from nope: choose one of lmms-eval, vlmevalkit$"):
        read_foreign("nope", [])
    with pytest.raises(UsageError, match=r"^unknown export format 'nope'; choose one of: lmms-eval, vlmevalkit$"):
        EXPORTERS.load("nope")


def test_an_unknown_harness_is_refused_before_anything_runs(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["bench", "export", "--to", "nope", "--dataset", str(tmp_path), "--out", str(tmp_path / "x")])
    assert stop.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
