"""Agreement with the human vote distribution, for tasks whose data ships one (Emotion6's per-image shares,
Abstract's vote counts; the per-image ``votes`` of ``sample_data.jsonl``).

* **Human distribution** h of an image: its votes restricted to the task's labels and renormalised to sum 1
  (Emotion6's ``neutral`` share is dropped; an image with no vote on any task label is left out).
* **Majority label**: the label with the largest share; images where two labels share the largest share are
  left out of the majority figures (counted as ``tied``).
* **Human reference** (one row per task, never ranked): the expected accuracy of one annotator drawn from h
  against the majority label, i.e. the mean over images of the majority's share, with a 95% normal interval.
* Per model, **majority accuracy**: the share of images whose prediction is the majority label (95% Wilson).
* Per model with per-label ``scores``: its distribution m = softmax of the scores over the task's labels;
  **KL(h ‖ m)** = Σₖ hₖ·ln(hₖ/mₖ) (nats; terms with hₖ = 0 are 0) and **JS(h, m)** = ½KL(h ‖ a) + ½KL(m ‖ a) with
  a = (h+m)/2, in bits (log base 2, so 0 ≤ JS ≤ 1), each the mean over images with a 95% normal interval.
* Emotion6 (per-image ``valence``): per model with scores, the **Spearman correlation** between Σ mₖ over the
  task's positive labels (:data:`benchmarks.score.slices.POLARITY`) and the human valence rating.
"""

from __future__ import annotations

import math

from benchmarks.score.figures import RunRecord
from benchmarks.score.task_data import TaskContext, mean_ci, probabilities, proportion
from schemas.predictions import label_key

DISTRIBUTION_NOTE = ("votes restricted to the task's labels and renormalised to sum 1; images whose largest share "
                     "is tied are left out of the majority figures")


def human_distribution(votes, labels) -> dict[str, float] | None:
    """The votes restricted to ``labels`` (matched by :func:`label_key`) and renormalised; ``None`` when no
    vote falls on a label."""
    if not isinstance(votes, dict):
        return None
    keyed = {label_key(k): float(v) for k, v in votes.items()}
    mass = [keyed.get(label_key(label), 0.0) for label in labels]
    total = sum(mass)
    if not total > 0:
        return None
    return {label: value / total for label, value in zip(labels, mass)}


def majority(distribution: dict[str, float]) -> str | None:
    """The label with the largest share, ``None`` when the largest share is tied."""
    top = max(distribution.values())
    leaders = [label for label, share in distribution.items() if math.isclose(share, top, rel_tol=1e-9, abs_tol=1e-12)]
    return leaders[0] if len(leaders) == 1 else None


def kl_divergence(p: dict[str, float], q: dict[str, float]) -> float:
    """KL(p ‖ q) in nats; terms with pₖ = 0 count 0 (q is a softmax, so qₖ > 0 where it matters)."""
    return sum(pk * math.log(pk / max(q[k], 1e-300)) for k, pk in p.items() if pk > 0)


def js_divergence(p: dict[str, float], q: dict[str, float]) -> float:
    """Jensen–Shannon divergence in bits: ½KL(p ‖ a) + ½KL(q ‖ a) with a = (p+q)/2, over ln 2."""
    a = {k: (p[k] + q[k]) / 2 for k in p}
    return (kl_divergence(p, a) + kl_divergence(q, a)) / (2 * math.log(2))


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None  # undefined for a constant series
    value = spearmanr(x, y).statistic
    return float(value) if math.isfinite(value) else None


def human_votes_section(task_name: str, runs: list[RunRecord], context: TaskContext) -> dict | None:
    """The ``human_votes`` section of ``leaderboard_tasks.json`` for one task (``None`` when its data ships no
    votes): the human reference row and, per model, majority accuracy, KL, JS and (with valence) Spearman."""
    from benchmarks.score.slices import polarity_map

    labels = context.labels
    humans = {image_id: h for image_id, record in context.records.items()
              if (h := human_distribution(record.get("votes"), labels)) is not None}
    if not humans:
        return None
    majorities = {image_id: majority(h) for image_id, h in humans.items()}
    polarity = polarity_map(labels)
    positive = [label for label in labels if (polarity or {}).get(label) == "positive"]
    models = {}
    seen: set[str] = set()
    for run in runs:
        rows = [row for row in context.answers(run) if str(row["image_id"]) in humans]
        seen |= {str(row["image_id"]) for row in rows}
        decided = [row for row in rows if majorities[str(row["image_id"])] is not None]
        hits = sum(row["pred"] == majorities[str(row["image_id"])] for row in decided)
        kl, js, mass, valence = [], [], [], []
        for row in rows:
            model = probabilities(row["scores"], labels)
            if model is None:
                continue
            human = humans[str(row["image_id"])]
            kl.append(kl_divergence(human, model))
            js.append(js_divergence(human, model))
            rating = context.records[str(row["image_id"])].get("valence")
            if positive and isinstance(rating, (int, float)):
                mass.append(sum(model[label] for label in positive))
                valence.append(float(rating))
        models[run.model] = {
            "n": len(rows), "majority_accuracy": proportion(hits, len(decided)),
            "kl": mean_ci(kl) if kl else None, "js": mean_ci(js) if js else None,
            "valence_spearman": ({"n": len(mass), "rho": _spearman(mass, valence)} if mass else None),
        }
    used = [image_id for image_id in humans if image_id in seen]
    decided = [image_id for image_id in used if majorities[image_id] is not None]
    shares = [humans[image_id][majorities[image_id]] for image_id in decided]
    reference = mean_ci(shares)
    if reference["ci"]:
        reference["ci"] = [max(0.0, reference["ci"][0]), min(1.0, reference["ci"][1])]
    return {"distribution": DISTRIBUTION_NOTE, "n_images": len(used), "tied": len(used) - len(decided),
            "positive_labels": positive, "human_reference": {**reference, "ranked": False}, "models": models}


def human_votes_row_figures(section: dict | None, model: str) -> dict:
    """The flat ``leaderboard.json`` keys of one model from its task's ``human_votes`` section (null where the
    section or the figure does not apply)."""
    found = (section or {}).get("models", {}).get(model) or {}
    majority_figure = found.get("majority_accuracy") or {}
    spearman = found.get("valence_spearman") or {}
    return {"human_kl": (found.get("kl") or {}).get("mean"), "human_js": (found.get("js") or {}).get("mean"),
            "majority_accuracy": majority_figure.get("rate"), "majority_n": majority_figure.get("n"),
            "valence_spearman": spearman.get("rho")}


__all__ = ["DISTRIBUTION_NOTE", "human_distribution", "human_votes_row_figures", "human_votes_section",
           "js_divergence", "kl_divergence", "majority"]
