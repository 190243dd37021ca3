"""Small runs whose human-vote, slice, polarity and probe figures are worked out by hand in
``tests/harness/test_task_sections.py`` (shared with the page test ``test_task_sections_page.py``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from benchmarks.spec.task import load_task

EMOTION6 = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
MIKELS = ["amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness"]

# Emotion6: votes as the archive ships them (with neutral), valence; gold is the folder label.
VOTES = {"e1": ({"joy": 0.6, "sadness": 0.2, "neutral": 0.2}, 7.0, "joy"),    # -> joy .75, sadness .25
         "e2": ({"anger": 0.5, "fear": 0.5}, 5.0, "anger"),                 # tied majority
         "e3": ({"fear": 1.0, "neutral": 0.0}, 2.0, "fear"),
         "e4": ({"sadness": 0.5, "joy": 0.25, "anger": 0.25}, 4.0, "sadness")}
# model "m": uniform scores, stated preds; model "v": joy scored s, every other label 0; model "g": generated text
M_PRED = {"e1": "joy", "e2": "anger", "e3": "sadness", "e4": "sadness"}
V_JOY = {"e1": 2.0, "e2": 0.0, "e3": -1.0, "e4": 1.0}
V_PRED = {"e1": "joy", "e2": "anger", "e3": "anger", "e4": "joy"}
G_PRED = {"e1": "sadness", "e2": "surprise", "e3": "fear", "e4": "sadness"}

# emoset8 "ours": attributes per image, gold, pred (i5 has no attributes)
ATTRS = {"i0": {"scene": "beach", "objects": ["Dog", "Cat"], "brightness": 0.1, "colorfulness": 0.6},
         "i1": {"scene": "beach", "objects": ["Dog"], "brightness": 0.2, "colorfulness": 0.65},
         "i2": {"scene": "office", "objects": [], "brightness": 0.39, "colorfulness": 1.0},
         "i3": {"scene": "office", "objects": ["Cat"], "brightness": 0.6, "colorfulness": 0.8,
                "facial_expression": "happy"},
         "i4": {"scene": None, "objects": ["Dog"], "brightness": 0.99, "colorfulness": None}}
# (gold, pred): i0 right, i1 awe->contentment (same polarity), i2 right, i3 right, i4 awe->fear (cross), i5 right,
# i6 anger->disgust (same), i7 sadness->amusement (cross), i8 fear->unparsed
EMOSET = {"i0": ("awe", "awe"), "i1": ("awe", "contentment"), "i2": ("fear", "fear"), "i3": ("amusement", "amusement"),
          "i4": ("awe", "fear"), "i5": ("anger", "anger"), "i6": ("anger", "disgust"), "i7": ("sadness", "amusement"),
          "i8": ("fear", None)}


def write_run(folder: Path, rows: list[dict], *, config: dict | None = None, sample_data: list[dict] | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if sample_data is not None:
        (folder / "sample_data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sample_data))


def row(model, task, image_id, gold, pred, *, scores=None, raw=None, variant=None):
    found = {"id": image_id if variant is None else f"{image_id}#{variant}", "image_id": image_id, "model": model,
             "task": task, "gold": gold, "pred": pred, "raw": raw, "scores": scores}
    if variant is not None:
        found["variant"] = variant
    return found


def shuffled_order(image_id: str, seed: int = 0) -> list[str]:
    """The shuffled option order recomputed from its documented recipe (not by the code under test)."""
    digest = hashlib.sha256(f"{seed}\0{image_id}".encode()).digest()
    permutation = np.random.default_rng(int.from_bytes(digest[:8], "big")).permutation(len(MIKELS))
    return [MIKELS[i] for i in permutation]


def probe_case() -> dict:
    """Sensitivity rows for five images: golds placed first (s0, s1), last (s2, s3) or in the middle (s4) of
    their shuffled order; answers chosen so that flips and positions are counted by hand."""
    ids = [f"s{k}" for k in range(5)]
    orders = {i: shuffled_order(i) for i in ids}
    gold = {"s0": orders["s0"][0], "s1": orders["s1"][0], "s2": orders["s2"][-1], "s3": orders["s3"][-1],
            "s4": orders["s4"][3]}
    shuffled = {"s0": gold["s0"],          # right, and the first option
                "s1": orders["s1"][1],     # wrong
                "s2": gold["s2"], "s3": gold["s3"],  # right (gold listed last)
                "s4": orders["s4"][0]}     # the first option (wrong)
    original = {**shuffled, "s2": orders["s2"][0], "s3": None}  # s2 and s3 flip between original and shuffled
    reversed_ = {**original, "s0": orders["s0"][2]}              # s0 flips between original and reversed
    return {"ids": ids, "orders": orders, "gold": gold, "shuffled": shuffled, "original": original,
            "reversed": reversed_}


def write_case(root: Path) -> Path:
    """Every run of the hand-worked case under ``root/runs``; returns that folder."""
    runs = root / "runs"
    data = [{"image_id": i, "votes": v, "valence": val, "arousal": 5.0} for i, (v, val, _) in VOTES.items()]
    uniform = dict.fromkeys(EMOTION6, 0.0)
    # emotion6: "m" is our run (config + sample data); "v" and "g" are imported (no config, no sample data)
    write_run(runs / "m" / "emotion6", [row("m", "emotion6", i, VOTES[i][2], M_PRED[i], scores=uniform) for i in VOTES],
              config={"task": load_task("emotion6").describe()}, sample_data=data)
    write_run(runs / "v" / "emotion6", [row("v", "emotion6", i, VOTES[i][2], V_PRED[i],
                                            scores={**uniform, "joy": V_JOY[i]}) for i in VOTES])
    write_run(runs / "g" / "emotion6", [row("g", "emotion6", i, VOTES[i][2], None, raw=f"Predict emotion: {G_PRED[i]}")
                                        for i in VOTES])
    write_run(runs / "ours" / "emoset8", [row("ours", "emoset8", i, g, p) for i, (g, p) in EMOSET.items()],
              config={"task": load_task("emoset8").describe()},
              sample_data=[{"image_id": i, "attributes": a} for i, a in ATTRS.items()])
    case = probe_case()
    rows = [row("p", "sensitivity", i, case["gold"][i], case[variant][i], variant=variant)
            for variant in ("original", "shuffled", "reversed") for i in case["ids"]]
    write_run(runs / "p" / "sensitivity", rows)  # imported: the packaged task gives the orders
    # blank: two rows per label; every fourth answer unparsed, the others "sadness" (12 of 16)
    ids = [(f"blank-{label}-{k}", label) for label in MIKELS for k in range(2)]
    blank = [row("p", "blank", i, label, None if n % 4 == 3 else "sadness", variant="original")
             for n, (i, label) in enumerate(ids)]
    write_run(runs / "p" / "blank", blank, config={"task": load_task("blank").describe()})
    return runs
