"""``emovit bench run`` with the 2025-2026 families on a machine without torchvision: a Qwen2-VL checkpoint in
its Hub layout scores through adapter ``vlm`` in rank and generate mode (it used to end in a traceback); a thinking
model's unclosed reasoning is a counted parse failure; ``max_new_tokens`` per model changes the run; and a
checkpoint that cannot be loaded is one line saying which model, what is missing and how to get it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks.cli import run_and_rank
from benchmarks.run.runner import run_bench
from benchmarks.spec.config import load_config
from builder.cli import main


def _config(path: Path, out: Path, build: Path, models: list[dict], **changes) -> Path:
    document = {"name": "recent", "out": str(out), "data": {"build": str(build)}, "tasks": ["emoset8"],
                "mode": "rank", "batch_size": 8, "progress": False, "leaderboard": True, "models": models}
    document.update(changes)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_qwen_checkpoint_scores_through_adapter_vlm_in_both_modes(tmp_path, zoo, bench_build, capsys):
    """Rank and generate runs of Qwen2-VL (adapter vlm) and Qwen2.5-VL (its alias) write every prediction; the
    ranked labels are the argmax of the scores and the generated ones our parser's reading of the text."""
    from emovit_model.scoring import parse_answer

    models = [{"name": "qwen2-vl", "adapter": "vlm", "path": str(zoo["qwen2-vl"])},
              {"name": "qwen2.5-vl", "adapter": "qwen2.5-vl", "path": str(zoo["qwen2.5-vl"]), "mode": "generate"}]
    path = _config(tmp_path / "c.yaml", tmp_path / "out", bench_build, models)
    assert main(["bench", "run", "--config", str(path)]) == 0
    ranked = _lines(tmp_path / "out" / "runs" / "qwen2-vl" / "emoset8" / "predictions.jsonl")
    generated = _lines(tmp_path / "out" / "runs" / "qwen2.5-vl" / "emoset8" / "predictions.jsonl")
    assert len(ranked) == len(generated) == 32
    assert all(row["pred"] == max(row["scores"], key=row["scores"].get) and row["raw"] is None for row in ranked)
    assert all(row["scores"] is None and row["pred"] == parse_answer(row["raw"]).label for row in generated)
    config = json.loads((tmp_path / "out" / "runs" / "qwen2-vl" / "emoset8" / "config.json").read_text())
    assert config["model"]["adapter"] == "vlm" and config["mode"] == "rank"


def test_an_unclosed_reasoning_block_is_a_counted_parse_failure(tmp_path, zoo, bench_build):
    """Qwen3-VL with its Thinking template: the answer starts inside the ``<think>`` block the template opens; cut
    off by a 4-token budget it never closes, so no label is read from it and the leaderboard counts every such
    answer under ``unclosed_reasoning``. The model entry's ``max_new_tokens`` is the budget, and changing it
    changes the run key (the answers are scored again)."""
    from emovit_model.zoo.chat_templates import QWEN3_VL_THINKING_CHAT_TEMPLATE

    entry = {"name": "qwen3-vl-thinking", "adapter": "qwen3-vl", "path": str(zoo["qwen3-vl"]), "mode": "generate",
             "max_new_tokens": 4, "options": {"chat_template": QWEN3_VL_THINKING_CHAT_TEMPLATE}}
    out = tmp_path / "out"
    _, leaderboard = run_and_rank(load_config(_config(tmp_path / "c.yaml", out, bench_build, [entry]),
                                              ["leaderboard=true"]))
    run = out / "runs" / "qwen3-vl-thinking" / "emoset8"
    rows = _lines(run / "predictions.jsonl")
    assert len(rows) == 32 and all(row["raw"].startswith("<think>\n") and "</think>" not in row["raw"]
                                   for row in rows)
    assert all(row["pred"] is None for row in rows)
    [board] = [row for row in leaderboard if row["model"] == "qwen3-vl-thinking"]
    assert board["parse_rules"]["unclosed_reasoning"] == 32 and board["parse_rules"]["failure"] == 0
    assert board["parse_failure_rate"] == 1.0 and board["accuracy"] == 0.0
    first_key = json.loads((run / "config.json").read_text())["run_key"]
    assert json.loads((run / "config.json").read_text())["model"]["max_new_tokens"] == 4

    longer = run_bench(load_config(tmp_path / "c.yaml", ["models.qwen3-vl-thinking.max_new_tokens=6"]))
    assert json.loads((run / "config.json").read_text())["run_key"] != first_key
    assert any("run key" in line for line in longer.log)
    widths = {len(row["raw"]) for row in _lines(run / "predictions.jsonl")}
    assert max(widths) > max(len(row["raw"]) for row in rows)


def test_max_new_tokens_must_be_a_positive_integer(tmp_path, zoo, bench_build):
    from schemas.errors import UsageError

    entry = {"name": "q", "adapter": "vlm", "path": str(zoo["qwen2-vl"]), "max_new_tokens": 0}
    with pytest.raises(UsageError, match="model q: 'max_new_tokens' must be a positive integer"):
        load_config(_config(tmp_path / "c.yaml", tmp_path / "out", bench_build, [entry]))


def _run_one_line(tmp_path, bench_build, path: Path, capsys) -> str:
    config = _config(tmp_path / "c.yaml", tmp_path / "out", bench_build,
                     [{"name": "m", "adapter": "vlm", "path": str(path)}])
    assert main(["bench", "run", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_checkpoint_without_processor_files_is_one_line(tmp_path, zoo, bench_build, capsys):
    folder = tmp_path / "no-processor"
    shutil.copytree(zoo["qwen2-vl"], folder)
    for name in ("preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json",
                 "chat_template.jinja"):
        (folder / name).unlink()
    err = _run_one_line(tmp_path, bench_build, folder, capsys)
    assert str(folder) in err and "qwen2_vl checkpoint's processor files are missing" in err
    assert "copy them from the checkpoint's Hub repository" in err


def test_an_unknown_architecture_is_one_line(tmp_path, zoo, bench_build, capsys):
    folder = tmp_path / "future-vl"
    shutil.copytree(zoo["qwen2-vl"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "qwen9_vl"}))
    err = _run_one_line(tmp_path, bench_build, folder, capsys)
    assert str(folder) in err and "model type 'qwen9_vl' is unknown to the installed transformers 5." in err
    assert "pip install -U transformers" in err


def test_a_missing_optional_library_is_one_line(tmp_path, zoo, bench_build, capsys, monkeypatch):
    """transformers' own ImportError (here: the video processor's torchvision, with the image-only route turned
    off as on a machine whose torchvision is expected to work) becomes one line naming the library and the fix."""
    from emovit_model import processors

    monkeypatch.setattr(processors, "has_torchvision", lambda: True)
    err = _run_one_line(tmp_path, bench_build, zoo["qwen2-vl"], capsys)
    assert str(zoo["qwen2-vl"]) in err and "needs the optional library torchvision" in err
    assert "pip install torchvision (the build matching your torch)" in err
