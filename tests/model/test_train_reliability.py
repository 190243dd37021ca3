"""``emovit train`` cannot report a broken model as trained, and ends cleanly: non-finite options refused up
front, a diverging run stopped naming the step, SIGTERM handled like Ctrl-C, checkpoints complete or absent,
an earlier run's checkpoints never mixed in by accident, and bad images named before or when they are met."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.cli import main
from builder.dataset.build import BuildConfig, build_dataset
from builder.sources.synth import SynthConfig, synthesise
from emovit_model.train import TrainConfig, train
from schemas.errors import UsageError
from tests.support.hostile import truncated_jpeg


def _config(dataset, base, out, **overrides) -> TrainConfig:
    options = {"dataset": str(dataset), "base": str(base), "out": str(out), "lr": 1e-3, "batch_size": 8,
               "warmup_steps": 0, "eval_batch_size": 16, "logging_steps": 1, "progress": False}
    options.update(overrides)
    return TrainConfig(**options)


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--lr", "inf", "lr must be a finite number, got inf"),
    ("--lr", "nan", "lr must be a finite number, got nan"),
    ("--weight-decay", "nan", "weight_decay must be a finite number, got nan"),
    ("--min-lr", "nan", "min_lr must be a finite number, got nan"),
    ("--epochs", "nan", "epochs must be a finite number, got nan"),
    ("--warmup-steps", "nan", "warmup_steps must be a finite number, got nan"),
    ("--logging-steps", "0", "logging_steps must be >= 1, got 0"),
    ("--num-workers", "-1", "num_workers must be >= 0, got -1"),
    ("--seed", "-1", "seed must be between 0 and 2**32 - 1, got -1"),
])
def test_options_that_would_train_a_broken_model_are_refused_before_anything(small_dataset, tiny_instructblip,
                                                                             tmp_path, capsys, flag, value, message):
    out = tmp_path / "run"
    code = main(["train", "--dataset", str(small_dataset), "--base", str(tiny_instructblip), "--out", str(out),
                 flag, value])
    assert (code, capsys.readouterr().err.strip().splitlines()) == (2, [f"emovit train: error: {message}"])
    assert not out.exists()  # no run_config.json, no folder


@pytest.mark.parametrize("argv", [["train", "--dataset", "d", "--base", "b"], ["zoo", "--kind", "clip"],
                                  ["synth", "--per-class", "1"], ["validate", "--emoset-root", "r"]])
def test_out_naming_an_existing_file_is_one_line(tmp_path, capsys, argv):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert main([*argv, "--out", str(taken)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"emovit {argv[0]}: error: --out {taken}: exists and is not a folder; choose another --out"]
    assert taken.read_text() == "mine"


def test_a_diverging_run_stops_naming_the_step_and_reports_no_accuracy(small_dataset, tiny_instructblip, tmp_path,
                                                                        capsys):
    """A finite but absurd learning rate: the first step sends the weights to ~1e27, the next loss overflows."""
    out = tmp_path / "run"
    code = main(["train", "--dataset", str(small_dataset), "--base", str(tiny_instructblip), "--out", str(out),
                 "--lr", "1e30", "--max-steps", "4", "--batch-size", "8", "--warmup-steps", "0", "--quiet",
                 "--logging-steps", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len([line for line in lines if line.startswith("emovit")]) == 1, lines
    assert lines[-1].startswith("emovit train: error: step ") and ("loss is nan" in lines[-1] or "loss is inf" in
                                                                    lines[-1] or "weight tensors hold" in lines[-1])
    assert lines[-1].endswith("training stopped, no accuracy is reported (lower --lr, or clip gradients with "
                              "--max-grad-norm)")
    metrics = (out / "metrics.json").read_text() if (out / "metrics.json").exists() else "{}"
    document = json.loads(metrics, parse_constant=lambda name: pytest.fail(f"metrics.json holds {name}"))
    assert not any(row.get("eval_accuracy") is not None for row in document.get("epochs", []))
    assert not (out / "adapter").exists()


def test_a_save_cut_short_leaves_no_checkpoint_and_resume_skips_incomplete_ones(small_dataset, tiny_instructblip,
                                                                               tmp_path, monkeypatch, capsys):
    from emovit_model.train.trainer import EmoVITTrainer

    out = tmp_path / "run"
    options = {"max_steps": 6, "save_steps": 2, "save_total_limit": 3}
    calls = []
    original = EmoVITTrainer._save_rng_state

    def interrupted(self, output_dir):
        calls.append(output_dir)
        if len(calls) == 2:
            raise KeyboardInterrupt  # SIGTERM arrives while checkpoint-4 is being written
        return original(self, output_dir)

    monkeypatch.setattr(EmoVITTrainer, "_save_rng_state", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(_config(small_dataset, tiny_instructblip, out, **options))
    monkeypatch.undo()
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [".saving-4", "checkpoint-2"]
    # a checkpoint left half-written by an older version: no trainer_state.json
    legacy = checkpoints / "checkpoint-5"
    legacy.mkdir()
    (legacy / "adapter_config.json").write_text("{}")
    resumed = train(_config(small_dataset, tiny_instructblip, out, **options), resume=True)
    err = capsys.readouterr().err
    assert f"warning: removing {checkpoints / '.saving-4'}: a checkpoint save that was cut short" in err
    assert f"warning: skipping {legacy}: incomplete (no readable trainer_state.json" in err
    assert resumed.global_step == 6
    assert [e["step"] for e in resumed.log_history if "loss" in e][:3] == [1, 2, 3]
    names = sorted(p.name for p in checkpoints.iterdir())
    assert {"checkpoint-4", "checkpoint-6"} <= set(names) and not [n for n in names if n.startswith(".")]


def test_an_earlier_runs_checkpoints_need_resume_or_overwrite(small_dataset, tiny_instructblip, tmp_path):
    out = tmp_path / "run"
    train(_config(small_dataset, tiny_instructblip, out, max_steps=1, save_steps=1))
    with pytest.raises(UsageError, match=r"holds the checkpoints of an earlier run \(checkpoint-1, \.\.\.\); continue "
                                         r"it with --resume, or start afresh with --overwrite"):
        train(_config(small_dataset, tiny_instructblip, out, max_steps=2, save_steps=2))
    again = train(_config(small_dataset, tiny_instructblip, out, max_steps=2, save_steps=2), overwrite=True)
    assert again.global_step == 2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-2"]


def test_sigterm_ends_training_like_ctrl_c(small_dataset, tiny_instructblip, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "builder.cli", "train", "--dataset", str(small_dataset), "--base",
         str(tiny_instructblip), "--out", str(out), "--max-steps", "100000", "--save-steps", "1", "--batch-size", "4",
         "--logging-steps", "1", "--warmup-steps", "0", "--lr", "1e-4", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        deadline = time.monotonic() + 240
        for line in process.stdout:
            if line.startswith("step 2 |") or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=120)
    finally:
        process.kill()
    err = process.stderr.read().strip().splitlines()
    assert code == 143, err
    assert err[-1] == ("emovit train: terminated (SIGTERM); checkpoints written so far are complete; continue with "
                       "--resume")
    assert "Traceback" not in "\n".join(err)
    from emovit_model.train.recipe import is_complete_checkpoint

    folders = list((out / "checkpoints").glob("checkpoint-*"))
    assert folders and all(is_complete_checkpoint(folder) for folder in folders)


def _build(root: Path, *, verify: bool, damage=None) -> Path:
    tree = root / "tree"
    synthesise(tree, SynthConfig(per_class=1, seed=5, splits=("train", "val")), progress=False)
    if damage:
        damage(tree)
    build_dataset(BuildConfig(emoset_root=str(tree), config="categorical", verify_images=verify), root / "ds",
                  cache_dir=root / "cache", progress=False, plots=False)
    return root / "ds"


def test_training_refuses_a_swapped_image_and_names_one_that_does_not_decode(tiny_instructblip, tmp_path, capsys):
    dataset = _build(tmp_path / "a", verify=True)
    tree = tmp_path / "a" / "tree"
    victim = tree / json.loads((tree / "train.json").read_text())[0][1]
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(victim.read_bytes())
    victim.unlink()
    victim.symlink_to(secret)
    with pytest.raises(UsageError, match=rf"split train, image {victim.stem}: .*outside the source tree"):
        train(_config(dataset, tiny_instructblip, tmp_path / "run-a", max_steps=1))
    # a JPEG cut short, kept by a build that did not verify images: training names it instead of dying mid-epoch
    rows = []
    dataset = _build(tmp_path / "b", verify=False, damage=lambda tree: rows.extend(json.loads(
        (tree / "train.json").read_text())) or (tree / rows[0][1]).write_bytes(truncated_jpeg()))
    code = main(["train", "--dataset", str(dataset), "--base", str(tiny_instructblip), "--out", str(tmp_path / "run-b"),
                 "--max-steps", "2", "--batch-size", "8", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith(f"emovit train: error: training data: row {Path(rows[0][2]).stem}-"), err
    assert "image cannot be decoded (OSError: image file is truncated" in err[-1]


def test_diverged_is_a_usage_error_of_one_line():
    from emovit_model.train.config import TrainingDiverged

    assert issubclass(TrainingDiverged, UsageError)
