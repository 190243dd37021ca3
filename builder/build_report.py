"""The Markdown build report and its plots (class balance, attribute histograms, answer lengths).

Counts come from the report and from Arrow aggregations over the built splits (no Python list per row),
so writing the report stays cheap and flat in memory on large builds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from schemas.protocol import KINDS

_COLOURS = {"categorical": "#1f77b4", "conversation": "#ff7f0e", "reasoning": "#2ca02c"}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _arrow(dataset, columns: list[str]):
    return dataset.select_columns(columns).with_format("arrow")[:]


def plot_class_balance(report: dict, emotions: list[str], path: Path) -> None:
    """Samples per emotion, one panel per split, one bar per kind (counts from the report)."""
    plt = _figure()
    splits = list(report["splits"])
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4.4), squeeze=False, sharey=True)
    kinds = [k for k in KINDS if any(k in s["samples_per_kind"] for s in report["splits"].values())]
    width = 0.8 / max(len(kinds), 1)
    for axis, split in zip(axes[0], splits):
        counts = report["splits"][split]["samples_per_kind_emotion"]
        for offset, kind in enumerate(kinds):
            axis.bar([i + offset * width for i in range(len(emotions))],
                     [counts.get(kind, {}).get(e, 0) for e in emotions], width=width, label=kind,
                     color=_COLOURS[kind])
        axis.set_xticks([i + width * (len(kinds) - 1) / 2 for i in range(len(emotions))], emotions,
                        rotation=45, ha="right")
        axis.set_title(f"{split}")
    axes[0][0].set_ylabel("samples")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("samples per emotion and kind", y=0.98)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=len(kinds), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.86))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def attribute_counts(built) -> tuple[list[str], dict[str, dict[str, dict[float, int]]]]:
    """Images (each counted once, all splits) per emotion and brightness / colorfulness level."""
    import pyarrow as pa

    emotions: list[str] = []
    counts: dict[str, dict[str, dict[float, int]]] = {"brightness": {}, "colorfulness": {}}
    tables = []
    for dataset in built.values():
        emotions = dataset.features["emotion"].names
        table = _arrow(dataset, ["image_id", "emotion", "attributes"])
        tables.append(pa.table({"image_id": table["image_id"], "emotion": table["emotion"],
                                "brightness": table["attributes"].combine_chunks().field("brightness"),
                                "colorfulness": table["attributes"].combine_chunks().field("colorfulness")}))
    if not tables:
        return emotions, counts
    images = pa.concat_tables(tables).group_by("image_id", use_threads=False).aggregate(
        [("emotion", "first"), ("brightness", "first"), ("colorfulness", "first")])
    for key in counts:
        levels = images.group_by(["emotion_first", f"{key}_first"]).aggregate([([], "count_all")]).to_pylist()
        for row in levels:
            if row[f"{key}_first"] is not None:
                counts[key].setdefault(emotions[row["emotion_first"]], {})[round(row[f"{key}_first"], 1)] = \
                    row["count_all"]
    return emotions, counts


def plot_attributes(built, path: Path) -> None:
    """Brightness and colorfulness histograms per emotion (one image counted once, all splits)."""
    plt = _figure()
    levels = [round(i / 10, 1) for i in range(11)]
    emotions, counts = attribute_counts(built)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for axis, key in zip(axes, counts):
        for emotion in emotions:
            per_level = counts[key].get(emotion, {})
            axis.plot(levels, [per_level.get(level, 0) for level in levels], marker="o", label=emotion)
        axis.set_title(f"{key} per emotion")
        axis.set_xlabel(f"{key} (annotated, 0-1)")
    axes[0].set_ylabel("images")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def answer_lengths(built) -> dict[str, np.ndarray]:
    """Words per gpt turn, grouped by kind."""
    import pyarrow.compute as pc

    parts: dict[str, list[np.ndarray]] = {}
    for dataset in built.values():
        table = _arrow(dataset, ["kind", "conversations"])
        conversations = table["conversations"].combine_chunks()
        turns = pc.list_flatten(conversations)
        owner = pc.list_parent_indices(conversations)
        is_answer = pc.equal(turns.field("from"), "gpt")
        words = pc.list_value_length(pc.utf8_split_whitespace(turns.field("value")))
        kinds = pc.take(table["kind"].combine_chunks(), owner)
        for kind in KINDS:
            mask = pc.and_(is_answer, pc.equal(kinds, kind))
            selected = pc.filter(words, mask).to_numpy(zero_copy_only=False)
            if len(selected):
                parts.setdefault(kind, []).append(selected.astype(np.int64))
    return {kind: np.concatenate(arrays) for kind, arrays in parts.items()}


def plot_answer_lengths(lengths: dict[str, np.ndarray], path: Path) -> None:
    """One histogram panel per kind: categorical answers (3 words) and long reasoning answers both show."""
    plt = _figure()
    from matplotlib.ticker import MaxNLocator

    kinds = [kind for kind in KINDS if len(lengths.get(kind, ()))]
    fig, axes = plt.subplots(1, max(len(kinds), 1), figsize=(4.2 * max(len(kinds), 1), 3.6), squeeze=False)
    for axis, kind in zip(axes[0], kinds):
        values = lengths[kind]
        bins = np.arange(values.min(), values.max() + 2) - 0.5 if values.max() - values.min() < 30 else 30
        axis.hist(values, bins=bins, color=_COLOURS[kind])
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if values.max() - values.min() < 6:
            axis.set_xlim(values.min() - 3, values.max() + 3)
        axis.set_title(f"{kind} ({len(values)} answers)")
        axis.set_xlabel("words per answer")
    axes[0][0].set_ylabel("answers")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_build_report(out: str | Path, built, report: dict) -> Path:
    """Write ``build_report.md`` and ``plots/*.png`` into ``out``; returns the Markdown path."""
    from tabulate import tabulate

    out = Path(out)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    emotions = next(iter(built.values())).features["emotion"].names if built else []
    plot_class_balance(report, emotions, plots / "class_balance.png")
    plot_attributes(built, plots / "attributes.png")
    lengths = answer_lengths(built)
    plot_answer_lengths(lengths, plots / "answer_lengths.png")
    split_rows = [[split, s["entries"], s["images_in_dataset"], s["images_quarantined"], s["images_curated"],
                   s["not_selected"], s["samples"], ", ".join(f"{k} {v}" for k, v in s["samples_per_kind"].items())]
                  for split, s in report["splits"].items()]
    length_rows = [[kind, len(v), int(v.min()), int(np.median(v)), int(v.max())] for kind, v in lengths.items()]
    usage = report["generation"]
    config = report["config"]
    lines = [
        "# Build report", "",
        f"Config `{config['config']}`, generator `{config['generator']}`, captioner `{config['captioner']}`, "
        f"sampling `{config['sampling']}`; fingerprint `{report['fingerprint']}`; status `{report['status']}`.", "",
        "## Splits", "",
        tabulate(split_rows, headers=["split", "entries", "images", "quarantined", "curated", "not selected",
                                      "samples", "per kind"], tablefmt="github"), "",
        "## Quarantine", "",
        tabulate(sorted(report["quarantine_codes"].items()), headers=["code", "entries"], tablefmt="github")
        if report["quarantine_codes"] else "Nothing was quarantined.", "",
        "## Generation", "",
        f"Generations {usage['generations']} (failed {usage['failed']}); requests {usage['requests']} (cached "
        f"{usage['cached']}, retries {usage['retries']}); tokens {usage['prompt_tokens']} in, "
        f"{usage['completion_tokens']} out; estimated cost ${usage['cost_usd']:.4f}.", "",
        "## Answer length (words)", "",
        tabulate(length_rows, headers=["kind", "answers", "min", "median", "max"], tablefmt="github"), "",
        "## Plots", "",
        "![class balance](plots/class_balance.png)", "",
        "![attributes](plots/attributes.png)", "",
        "![answer lengths](plots/answer_lengths.png)", "",
    ]
    path = out / "build_report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
