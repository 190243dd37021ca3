"""The ``emovit`` command. Subcommands live in their own modules, registered in :data:`COMMANDS` and imported
only when invoked, so ``emovit --help`` starts fast and never imports torch, transformers or fiftyone.

A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``. Errors a user can fix
(bad input trees, missing files) are raised as :class:`schemas.errors.UsageError` and printed as one line
with exit code 2. SIGTERM is handled like Ctrl-C (SIGINT): the command stops where it is, its ``finally``
blocks clean up (a build's staging folder, a checkpoint's staging folder), and one line says so; the exit
code is 130 for SIGINT and 143 for SIGTERM. A module may name an ``INTERRUPTED_NOTE`` added to that line.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import signal
import sys
from pathlib import Path

from schemas.errors import UsageError
from schemas.registry import Entry, Registry

#: The subcommands: each names its module's ``run(args) -> int``; the same module's ``add_arguments(parser)``
#: declares its options (and ``INTERRUPTED_NOTE``, if any, what an interruption leaves behind).
COMMANDS = Registry("command", {
    "synth": Entry("builder.sources.synth:run", "write a synthetic EmoSet-format tree (images, annotations, splits)"),
    "validate": Entry("builder.sources.validate:run",
                      "read and validate an EmoSet-style tree; write report and quarantine"),
    "build": Entry("builder.dataset.build:run",
                   "build the instruction dataset (datasets save_to_disk) with report and quarantine"),
    "caption": Entry("builder.dataset.caption:run",
                     "caption a build's images ahead of it, in parallel under torchrun / accelerate launch"),
    "export": Entry("builder.publish.export:run",
                    "export a built dataset as a Hub-ready folder (parquet + card) or LLaVA JSON"),
    "push": Entry("builder.publish.push:run", "publish an exported dataset to the Hugging Face Hub"),
    "curate": Entry("builder.curation.cli:run", "curate a build visually with FiftyOne: load, signals, App, decisions"),
    "zoo": Entry("emovit_model.zoo.cli:run",
                 "write tiny random checkpoints (instructblip, blip2, llava, clip) for tests and demos"),
    "train": Entry("emovit_model.train.cli:run", "train EmoVIT (InstructBLIP Q-Former) on a built dataset"),
    "demo": Entry("benchmarks.demo:run", "run the whole offline pipeline on a small synthetic sample"),
    "bench": Entry("benchmarks.cli:run", "benchmark harness: score models on tasks (run) and rebuild the leaderboard"),
})

#: Commands that moved, still accepted: ``(command, option, value)`` -> the command line it became. The options
#: around it are passed on unchanged, and one line on stderr says where the command lives now.
MOVED: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("export", "--format", "lmms-eval"): ("bench", "export", "--to", "lmms-eval"),
    ("export", "--format", "vlmevalkit"): ("bench", "export", "--to", "vlmevalkit"),
}

#: Commands whose ``--out`` is a folder: a file there, or a NUL in the name, is refused before they start.
FOLDER_OUTPUTS = frozenset({"synth", "validate", "build", "export", "zoo", "train"})


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, as Ctrl-C raises :class:`KeyboardInterrupt`."""


def _terminate(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only; restored after)."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_output_folder(name: str, args) -> None:
    out = getattr(args, "out", None)
    if name not in FOLDER_OUTPUTS or not isinstance(out, str):
        return
    if "\x00" in out:
        raise UsageError(f"--out {out!r}: a path cannot hold a NUL character")
    if Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; choose another --out")


def _moved(argv: list[str]) -> list[str]:
    """``argv`` of a command that moved (:data:`MOVED`) as the command line it became, saying so on stderr."""
    for (command, option, value), target in MOVED.items():
        if argv[:1] != [command]:
            continue
        rest = argv[1:]
        for index, arg in enumerate(rest):
            if arg == f"{option}={value}":
                kept = rest[:index] + rest[index + 1:]
            elif arg == option and rest[index + 1:index + 2] == [value]:
                kept = rest[:index] + rest[index + 2:]
            else:
                continue
            print(f"emovit {command} {option} {value} has moved to 'emovit {' '.join(target)}' (running that)",
                  file=sys.stderr)
            return [*target, *kept]
    return argv


def command_module(name: str):
    """The module of subcommand ``name``, imported now (its ``add_arguments``, ``run`` and ``INTERRUPTED_NOTE``)."""
    return inspect.getmodule(COMMANDS.load(name))


def _top_level_help() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: emovit <command> [options]   |   emovit --version", "", "commands:"]
    lines += [f"  {name:<{width}}  {entry.summary}" for name, entry in COMMANDS.items()]
    lines += ["", "Run 'emovit <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``emovit`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"emovit {version('emovit')}")
        except PackageNotFoundError:
            print("emovit (not installed: run from a source tree)")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_level_help())
        return 0 if argv else 2
    argv = _moved(argv)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"emovit: error: unknown command {name!r}\n\n{_top_level_help()}", file=sys.stderr)
        return 2
    module = command_module(name)
    parser = argparse.ArgumentParser(prog=f"emovit {name}", description=COMMANDS[name].summary)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    note = getattr(module, "INTERRUPTED_NOTE", None)
    try:
        with _sigterm_as_interrupt():
            _check_output_folder(name, args)
            return int(module.run(args) or 0)
    except Terminated:
        print(f"emovit {name}: terminated (SIGTERM)" + (f"; {note}" if note else ""), file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"emovit {name}: interrupted (SIGINT)" + (f"; {note}" if note else ""), file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"emovit {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
