"""What a run needs before it scores: its place among the launched processes, the checkpoints its model
entries name and the data its tasks read.

* :func:`processes` — rank, world size and device; under ``accelerate launch`` (or ``torchrun``) from
  accelerate's ``PartialState``, else one process on the configured device.
* :func:`resolve_reference` — ``zoo:<kind>`` becomes a tiny checkpoint under ``OUT/_zoo``; anything else is
  loaded as given.
* :func:`prepare_data` — the run config's data: a build, an image folder and the held-out settings, with the
  synthetic stand-ins of the tiny profile (:mod:`benchmarks.data.fixtures`) written by the main process while
  the others wait.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.data.samples import heldout_data
from benchmarks.spec.config import BenchConfig


@dataclass
class Processes:
    """This process's place among the ``accelerate launch`` processes (one process when not launched)."""

    rank: int
    world: int
    device: object
    wait: object = field(default=lambda: None)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def processes(device: str = "auto") -> Processes:
    """Rank, world size and device; under ``accelerate launch`` from accelerate's ``PartialState``."""
    from emovit_model.model import resolve_device

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch
        from accelerate import PartialState

        # on CPU accelerate only joins the launcher's process group when asked to (gloo, one CPU per process)
        state = PartialState(cpu=str(device) == "cpu" or not torch.cuda.is_available())
        return Processes(state.process_index, state.num_processes, state.device, state.wait_for_everyone)
    return Processes(0, 1, resolve_device(device))


def resolve_reference(reference: str, out: Path, procs: Processes) -> str:
    """``zoo:<kind>`` -> a tiny checkpoint under ``OUT/_zoo`` (written by the main process); else as given."""
    if not str(reference).startswith("zoo:"):
        return str(reference)
    from benchmarks.data.fixtures import zoo_checkpoint

    kind = str(reference).split(":", 1)[1]
    target = out / "_zoo" / kind
    if procs.is_main:
        zoo_checkpoint(target, kind)
    procs.wait()
    return str(target)


def prepare_data(config: BenchConfig, out: Path, procs: Processes) -> dict:
    """``{"build": path or None, "folder": path or None, ...held-out settings}``; synthetic data is made by the
    main process."""
    from benchmarks.data import fixtures

    data = dict(config.data)
    build, folder = data.get("build"), data.get("folder")
    if not build and data.get("synth"):
        spec = dict(data["synth"])
        if procs.is_main:
            fixtures.synthetic_build(out / "_data" / "synth", **spec)
        procs.wait()
        build = str(out / "_data" / "synth" / "build")
    if not folder and data.get("folder_synth"):
        spec = dict(data["folder_synth"])
        if procs.is_main:
            fixtures.synthetic_folder(out / "_data" / "folder", **spec)
        procs.wait()
        folder = str(out / "_data" / "folder")
    return {"build": build, "folder": folder, **heldout_data(config, out, procs.is_main, procs.wait)}


__all__ = ["Processes", "prepare_data", "processes", "resolve_reference"]
