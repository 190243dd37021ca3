"""The Markdown build report and its plots (class balance, attribute histograms, answer lengths)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from schemas.features import column
from schemas.protocol import KINDS


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_class_balance(built, path: Path) -> None:
    """Bar chart of samples per emotion, one panel per split, one bar group per kind."""
    plt = _figure()
    splits = list(built)
    fig, axes = plt.subplots(1, len(splits), figsize=(5 * len(splits), 4), squeeze=False)
    for axis, split in zip(axes[0], splits):
        dataset = built[split]
        names = dataset.features["emotion"].names
        counts = Counter(zip(column(dataset, "kind"), column(dataset, "emotion")))
        kinds = [k for k in KINDS if any(kind == k for kind, _ in counts)]
        width = 0.8 / max(len(kinds), 1)
        for offset, kind in enumerate(kinds):
            axis.bar([i + offset * width for i in range(len(names))],
                     [counts.get((kind, i), 0) for i in range(len(names))], width=width, label=kind)
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=45, ha="right")
        axis.set_title(f"{split}: samples per emotion")
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_attributes(built, path: Path) -> None:
    """Brightness and colorfulness histograms per emotion (one image counted once, all splits)."""
    plt = _figure()
    levels = [round(i / 10, 1) for i in range(11)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    seen: set[str] = set()
    values: dict[str, dict[str, Counter]] = {"brightness": {}, "colorfulness": {}}
    names = None
    for dataset in built.values():
        names = dataset.features["emotion"].names
        for image_id, label, attributes in zip(column(dataset, "image_id"), column(dataset, "emotion"), column(dataset, "attributes")):
            if image_id in seen:
                continue
            seen.add(image_id)
            for key in values:
                if attributes[key] is not None:
                    values[key].setdefault(names[label], Counter())[round(attributes[key], 1)] += 1
    for axis, key in zip(axes, values):
        for emotion in names or []:
            counts = values[key].get(emotion, Counter())
            axis.plot(levels, [counts.get(level, 0) for level in levels], marker="o", label=emotion)
        axis.set_title(f"{key} per emotion (images)")
        axis.set_xlabel(key)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def answer_lengths(built) -> dict[str, list[int]]:
    """Words per gpt turn, grouped by kind."""
    lengths: dict[str, list[int]] = {}
    for dataset in built.values():
        for kind, conversation in zip(column(dataset, "kind"), column(dataset, "conversations")):
            lengths.setdefault(kind, []).extend(len(t["value"].split()) for t in conversation if t["from"] == "gpt")
    return lengths


def plot_answer_lengths(lengths: dict[str, list[int]], path: Path) -> None:
    plt = _figure()
    fig, axis = plt.subplots(figsize=(6, 4))
    for kind in KINDS:
        if lengths.get(kind):
            axis.hist(lengths[kind], bins=30, alpha=0.6, label=kind)
    axis.set_xlabel("words per answer")
    axis.set_ylabel("answers")
    axis.set_title("answer length")
    axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_build_report(out: str | Path, built, report: dict) -> Path:
    """Write ``build_report.md`` and ``plots/*.png`` into ``out``; returns the Markdown path."""
    from tabulate import tabulate

    out = Path(out)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    plot_class_balance(built, plots / "class_balance.png")
    plot_attributes(built, plots / "attributes.png")
    lengths = answer_lengths(built)
    plot_answer_lengths(lengths, plots / "answer_lengths.png")
    split_rows = [[split, s["entries"], s["images_in_dataset"], s["images_quarantined"], s["not_selected"],
                   s["samples"], ", ".join(f"{k} {v}" for k, v in s["samples_per_kind"].items())]
                  for split, s in report["splits"].items()]
    length_rows = [[kind, len(v), min(v), sorted(v)[len(v) // 2], max(v)] for kind, v in sorted(lengths.items()) if v]
    usage = report["generation"]
    config = report["config"]
    lines = [
        "# Build report", "",
        f"Config `{config['config']}`, generator `{config['generator']}`, captioner `{config['captioner']}`, "
        f"sampling `{config['sampling']}`; fingerprint `{report['fingerprint']}`.", "",
        "## Splits", "",
        tabulate(split_rows, headers=["split", "entries", "images", "quarantined", "not selected", "samples",
                                      "per kind"], tablefmt="github"), "",
        "## Quarantine", "",
        tabulate(sorted(report["quarantine_codes"].items()), headers=["code", "entries"], tablefmt="github")
        if report["quarantine_codes"] else "Nothing was quarantined.", "",
        "## Generation", "",
        f"Requests {usage['requests']} (cached {usage['cached']}, failed {usage['failed']}, retries "
        f"{usage['retries']}); tokens {usage['prompt_tokens']} in, {usage['completion_tokens']} out; "
        f"estimated cost ${usage['cost_usd']:.4f}.", "",
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
