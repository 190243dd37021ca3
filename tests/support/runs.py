"""Run folders as another tool (or our harness) would leave them, for leaderboard tests and benchmarks."""

from __future__ import annotations

import json
import random
from pathlib import Path

LABELS = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")


def prediction_line(sample: str, model: str, task: str, gold: str, pred: str | None, *, mode: str = "rank",
                    labels=LABELS) -> dict:
    """One line of our predictions contract: ranked (per-label scores) or generated (answer text)."""
    if mode == "rank":
        scores = {label: (0.0 if label == pred else -1.0) for label in labels}
        return {"id": sample, "image_id": sample, "model": model, "task": task, "gold": gold, "pred": pred,
                "raw": None, "scores": scores}
    return {"id": sample, "image_id": sample, "model": model, "task": task, "gold": gold, "pred": pred,
            "raw": f"Predict emotion: {pred}" if pred else "no idea", "scores": None}


def write_run(folder: Path, lines: list[dict], config: dict | None = None) -> Path:
    """``folder/predictions.jsonl`` (and ``config.json`` when given); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def synthetic_runs(root: Path, *, models: int, tasks: int, samples: int, seed: int = 0) -> list[Path]:
    """``models`` x ``tasks`` run folders of ``samples`` lines each, skill varying by model; half the
    models ranked, half generated. Returns the run folders."""
    rng = random.Random(seed)
    folders = []
    for t in range(tasks):
        task = f"task{t}"
        gold = [rng.choice(LABELS) for _ in range(samples)]
        for m in range(models):
            model, skill, mode = f"model{m:02d}", 0.2 + 0.7 * m / max(1, models - 1), "rank" if m % 2 else "generate"
            lines = []
            for i, g in enumerate(gold):
                pred = g if rng.random() < skill else rng.choice(LABELS)
                if mode == "generate" and rng.random() < 0.02:
                    pred = None
                lines.append(prediction_line(f"img{i:06d}", model, task, g, pred, mode=mode))
            config = {"model": {"name": model, "adapter": "emovit", "reference": f"/ckpt/{model}"},
                      "task": {"name": task, "labels": list(LABELS)}, "task_hash": f"{t:064d}",
                      "versions": {"torch": "2.13.0"}}
            folders.append(write_run(root / model / task, lines, config))
    return folders
