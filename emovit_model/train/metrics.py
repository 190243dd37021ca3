"""Per-epoch figures from the Trainer's log history (what ``metrics.json`` holds)."""

from __future__ import annotations

import math


def epoch_metrics(log_history: list[dict]) -> list[dict]:
    """Per epoch: mean training loss (step-weighted over the loss logs of that epoch) and eval metrics.

    Epoch ``e`` holds the logs with ``e-1 < epoch <= e``; an evaluation before training is epoch 0.
    """
    epochs: dict[int, dict] = {}
    previous_step = None
    for entry in log_history:
        if "epoch" not in entry:
            continue
        key = max(0, math.ceil(entry["epoch"] - 1e-6))
        record = epochs.setdefault(key, {"epoch": key, "step": 0, "_loss": 0.0, "_steps": 0})
        record["step"] = max(record["step"], int(entry.get("step", 0)))
        if "loss" in entry:
            step = int(entry["step"])  # a loss log averages the steps since the previous loss log
            span = max(step - (previous_step or 0), 1)
            record["_loss"] += entry["loss"] * span
            record["_steps"] += span
            previous_step = step
            record["learning_rate"] = entry.get("learning_rate")
        for name, value in entry.items():
            if name.startswith("eval_") and not name.endswith(("_runtime", "_per_second")):
                record[name] = value
    rows = []
    for key in sorted(epochs):
        record = epochs[key]
        steps, total = record.pop("_steps"), record.pop("_loss")
        record["train_loss"] = total / steps if steps else None
        rows.append(record)
    return rows


def metrics_document(log_history: list[dict], fingerprint: str | None = None) -> dict:
    """The ``metrics.json`` document: per-epoch rows, best and final validation accuracy, run totals."""
    epochs = epoch_metrics(log_history)
    final = next((e for e in reversed(log_history) if "train_runtime" in e), None)
    accuracies = [e["eval_accuracy"] for e in epochs if e.get("eval_accuracy") is not None]
    return {
        "fingerprint": fingerprint,
        "epochs": epochs,
        "best_eval_accuracy": max(accuracies) if accuracies else None,
        "final_eval_accuracy": accuracies[-1] if accuracies else None,
        "train": {k: v for k, v in (final or {}).items() if k != "epoch"},
    }
