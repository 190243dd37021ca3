"""The README's commands for several GPUs and several machines: each parses with the launcher's own argument
parser and with ours, and two of them really run as two machines on 127.0.0.1 (two launchers, one CPU process
each, gloo): the ``torchrun`` caption command (c10d rendezvous) and the ``accelerate launch`` evaluation
command (machine ranks 0 and 1)."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECTION = "## Several GPUs and several machines"
#: What the README's shell variables stand for in the parse check.
SHELL = {"$(which emovit)": str(BIN / "emovit"), '"$SLURM_NNODES"': "2", '"$head:29500"': "10.0.0.1:29500",
         '"$SLURM_JOB_ID"': "1"}


def documented_commands() -> list[str]:
    """The launch commands of the README section, continuation lines joined, shell variables filled in."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "head=")):
                continue
            for name, value in SHELL.items():
                line = line.replace(name, value)
            commands.append(line.removeprefix("srun "))
    return commands


def _ours(program: list[str]) -> tuple[str, argparse.Namespace]:
    """Parse a program's arguments with the ``emovit`` subcommand's own parser."""
    from builder.cli import command_module

    if program[:2] == ["-m", "benchmarks"]:
        name, rest = "bench", program[2:]
    else:
        assert Path(program[0]).name == "emovit", program
        name, rest = program[1], program[2:]
    parser = argparse.ArgumentParser(prog=f"emovit {name}", exit_on_error=False)
    command_module(name).add_arguments(parser)
    return name, parser.parse_args(rest)


def parse(command: str) -> dict:
    """Launcher options and our parsed program arguments of one documented command."""
    argv = shlex.split(command)
    if argv[0] == "torchrun":
        from torch.distributed.run import get_args_parser

        launcher = get_args_parser().parse_args(argv[1:])
        program = (["-m"] if launcher.module else []) + [launcher.training_script, *launcher.training_script_args]
        launch = {"nodes": launcher.nnodes, "endpoint": launcher.rdzv_endpoint, "backend": launcher.rdzv_backend}
    elif argv[:2] == ["accelerate", "launch"]:
        from accelerate.commands.launch import launch_command_parser

        launcher = launch_command_parser().parse_args(argv[2:])
        program = (["-m"] if launcher.module else []) + [launcher.training_script, *launcher.training_script_args]
        launch = {"nodes": str(launcher.num_machines or 1), "rank": launcher.machine_rank,
                  "endpoint": f"{launcher.main_process_ip}:{launcher.main_process_port}",
                  "processes": launcher.num_processes, "multi_gpu": launcher.multi_gpu}
    else:
        assert argv[0] == "emovit", command
        launch, program = {"nodes": "local"}, [str(BIN / "emovit"), *argv[1:]]
    name, args = _ours(program)
    return {"launch": launch, "command": name, "args": args}


def test_every_documented_command_parses_and_machines_share_storage():
    parsed = [parse(command) for command in documented_commands()]
    assert [(p["launch"]["nodes"], p["command"]) for p in parsed] == [
        ("1:1", "caption"), ("local", "build"), ("1:1", "train"), ("1", "bench"),  # one machine
        ("2", "caption"), ("2", "train"), ("2", "bench"),  # two machines
        ("2", "train")]  # SLURM
    machines = [p for p in parsed if p["launch"]["nodes"] == "2"]
    for entry in machines:
        launch, args = entry["launch"], entry["args"]
        assert launch["endpoint"] == "10.0.0.1:29500"
        if "backend" in launch:
            assert launch["backend"] == "c10d"
        else:
            assert (launch["rank"], launch["processes"], launch["multi_gpu"]) == (0, 16, True)
        paths = [getattr(args, name) for name in ("emoset_root", "cache_dir", "dataset", "out")
                 if getattr(args, name, None)]
        paths += [value.split("=", 1)[1] for value in getattr(args, "overrides", []) if "/" in value]
        assert paths and all(path.startswith("/nfs/emovit/") for path in paths), entry


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_local_machines(command: str, replacements: dict[str, str]) -> list[str]:
    for old, new in replacements.items():
        assert old in command, old
        command = command.replace(old, new)
    argv = shlex.split(command)
    argv[0] = str(BIN / argv[0])
    return argv


def _run_as_two_machines(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    processes = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for argv in commands]
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=300)
        finally:
            process.kill()
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


@pytest.mark.slow
@pytest.mark.integration
def test_the_torchrun_caption_command_on_two_machines(small_tree_template, tmp_path):
    from emovit_model.zoo import build_tiny

    model = build_tiny("blip2", tmp_path / "blip2", seed=0)
    command = next(c for c in documented_commands() if c.startswith("torchrun --nnodes 2") and " caption " in c)
    argv = _as_local_machines(command, {
        "10.0.0.1:29500": f"127.0.0.1:{_free_port()}", "--nproc-per-node 8": "--nproc-per-node 1",
        "/nfs/emovit/EmoSet-3.3M": str(small_tree_template), "blip2:Salesforce/blip2-opt-2.7b": f"blip2:{model}",
        "/nfs/emovit/cache": str(tmp_path / "cache"), "caption-1": f"caption-{tmp_path.name}"})
    argv += ["--config", "categorical", "--splits", "train,val", "--shard-images", "5", "--quiet"]
    results = _run_as_two_machines([argv, argv])
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-3000:] for r in results]
    # one machine's rank 0 reports for both: 10 units of 5 entries, 24 images each
    report = [line.split() for r in results for line in r.stdout.splitlines() if line.split()[:1] in
              (["0"], ["1"], ["all"])]
    assert report == [["0", "5", "24", "0", "24", "0"], ["1", "5", "24", "0", "24", "0"],
                      ["all", "10", "48", "0", "48", "0"]]
    with closing(sqlite3.connect(tmp_path / "cache" / "captions.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM captions_by_content").fetchone() == (48,)
    assert not (tmp_path / "cache" / "caption-parts").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_the_accelerate_evaluation_command_on_two_machines(tmp_path):
    from benchmarks.data.fixtures import synthetic_build, zoo_checkpoint

    build = synthetic_build(tmp_path / "synth", per_class=2, seed=0)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "name": "two-machines", "out": str(tmp_path / "out"), "data": {"build": str(build)}, "tasks": ["emoset8"],
        "mode": "rank", "batch_size": 4, "progress": False,
        "models": [{"name": "clip", "adapter": "clip", "path": str(zoo_checkpoint(tmp_path / "clip", "clip"))}]}))
    command = next(c for c in documented_commands() if c.startswith("accelerate launch --multi_gpu --num_machines"))
    program = command[command.index("--config main"):]
    port = _free_port()
    machines = [_as_local_machines(command, {
        "10.0.0.1": "127.0.0.1", "--main_process_port 29500": f"--main_process_port {port}",
        "--num_processes 16": "--num_processes 2", "--machine_rank 0": f"--machine_rank {rank}",
        program: f"--config {config}"}) for rank in (0, 1)]
    results = _run_as_two_machines(machines)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-3000:] for r in results]
    run = tmp_path / "out" / "runs" / "clip" / "emoset8"
    log = [json.loads(line) for line in (run / "run_log.jsonl").read_text().splitlines()]
    assert [(entry["scored"], entry["world_size"]) for entry in log] == [(16, 2)]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 16 == len({p["id"] for p in predictions}) and not (run / "shards").exists()
