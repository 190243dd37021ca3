"""The Markdown build report and its plots (class balance, attribute histograms, answer lengths).

Counts come from the report and from Arrow aggregations over the built splits, read batch by batch
(:func:`builder.dataset.stored.record_batches`), so writing the report stays flat in memory on large builds. The
attribute plot counts each image once using the builder's row order: the rows of one image are consecutive.
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
    import pyarrow.compute as pc

    from builder.dataset.stored import record_batches

    emotions: list[str] = []
    counts: dict[str, dict[str, dict[float, int]]] = {"brightness": {}, "colorfulness": {}}
    for dataset in built.values():
        emotions = dataset.features["emotion"].names
        previous = None  # the last image id of the previous batch
        for batch in record_batches(dataset, ["image_id", "emotion", "attributes"]):
            ids = batch.column("image_id")
            shifted = pa.concat_arrays([pa.array([previous], pa.string()), ids.slice(0, len(ids) - 1)])
            first = pc.fill_null(pc.not_equal(ids, shifted), True)  # the first row of each image
            previous = ids[-1].as_py() if len(ids) else previous
            attributes = batch.column("attributes")
            images = pa.table({"emotion": batch.column("emotion"), "brightness": attributes.field("brightness"),
                               "colorfulness": attributes.field("colorfulness")}).filter(first)
            for key in counts:
                for row in images.group_by(["emotion", key]).aggregate([([], "count_all")]).to_pylist():
                    if row[key] is not None:
                        per_level = counts[key].setdefault(emotions[row["emotion"]], {})
                        level = round(row[key], 1)
                        per_level[level] = per_level.get(level, 0) + row["count_all"]
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
    """Per kind, how many gpt turns have each length in words (``counts[n]`` answers of ``n`` words)."""
    import pyarrow.compute as pc

    from builder.dataset.stored import record_batches

    totals: dict[str, np.ndarray] = {}
    for dataset in built.values():
        for batch in record_batches(dataset, ["kind", "conversations"]):
            conversations = batch.column("conversations")
            turns = pc.list_flatten(conversations)
            is_answer = pc.equal(turns.field("from"), "gpt")
            words = pc.list_value_length(pc.utf8_split_whitespace(turns.field("value")))
            kinds = pc.take(batch.column("kind"), pc.list_parent_indices(conversations))
            for kind in KINDS:
                selected = pc.filter(words, pc.and_(is_answer, pc.equal(kinds, kind))).to_numpy(zero_copy_only=False)
                if len(selected):
                    counts = np.bincount(selected.astype(np.int64))
                    total = totals.get(kind, np.zeros(0, dtype=np.int64))
                    size = max(len(total), len(counts))
                    totals[kind] = np.pad(total, (0, size - len(total))) + np.pad(counts, (0, size - len(counts)))
    return totals


def plot_answer_lengths(lengths: dict[str, np.ndarray], path: Path) -> None:
    """One histogram panel per kind: categorical answers (3 words) and long reasoning answers both show."""
    plt = _figure()
    from matplotlib.ticker import MaxNLocator

    kinds = [kind for kind in KINDS if lengths.get(kind) is not None and lengths[kind].sum()]
    fig, axes = plt.subplots(1, max(len(kinds), 1), figsize=(4.2 * max(len(kinds), 1), 3.6), squeeze=False)
    for axis, kind in zip(axes[0], kinds):
        counts = lengths[kind]
        used = np.flatnonzero(counts)
        low, high = int(used[0]), int(used[-1])
        bins = np.arange(low, high + 2) - 0.5 if high - low < 30 else 30
        axis.hist(np.arange(len(counts)), bins=bins, weights=counts, range=(low - 0.5, high + 0.5),
                  color=_COLOURS[kind])
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if high - low < 6:
            axis.set_xlim(low - 3, high + 3)
        axis.set_title(f"{kind} ({int(counts.sum())} answers)")
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
    length_rows = []
    for kind, counts in lengths.items():
        used = np.flatnonzero(counts)
        middle = int(np.searchsorted(np.cumsum(counts), counts.sum() // 2, side="right"))  # sorted[n // 2]
        length_rows.append([kind, int(counts.sum()), int(used[0]), middle, int(used[-1])])
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
