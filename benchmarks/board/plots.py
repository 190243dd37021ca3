"""Leaderboard plots (PNG, matplotlib's Agg backend): per task, a confusion matrix per model, a reliability
diagram per model whose run carries per-label scores, per-class F1 bars, accuracy with its 95% CI per model,
and the data-scaling curve when runs carry training fractions.

Model and task names come from other people's files: plot files are named by :func:`schemas.names.unique_names`
(``accuracy-<task>.png``, ``confusion-<task>-<model>.png``, ``reliability-<task>-<model>.png`` for plain
names), so every plot lies in the plots folder and two runs never share a file."""

from __future__ import annotations

from pathlib import Path

#: Longest name a plot shows (longer ones end with an ellipsis).
SHOWN = 32


def _t(value) -> str:
    """A name as plain text for matplotlib: unprintable characters as escapes, cut to :data:`SHOWN`
    characters; ``$`` would start mathtext (a bad formula fails the plot), a leading ``_`` hide a legend entry."""
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(value))
    text = (text[: SHOWN - 1] + "…" if len(text) > SHOWN else text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _ts(values) -> list[str]:
    return [_t(value) for value in values]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_plots(rows: list[dict], paths: list[Path]) -> list[Path]:
    """Row-normalised confusion matrix of each run (counts written in the cells; last column: unparsed).

    Runs with the same label set are drawn on one figure whose image and cell texts are swapped between
    saves: building a figure costs more than drawing it, and a board may have dozens of models per task.
    PNGs are written with light compression (zlib level 1) for the same reason.
    """
    import numpy as np

    plt = _pyplot()
    shapes: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        shapes.setdefault((tuple(row["confusion"]["labels"]), tuple(row["confusion"]["columns"])), []).append(index)
    for (labels, columns), members in shapes.items():
        size = max(5.0, 0.6 * len(columns) + 2)
        fig, ax = plt.subplots(figsize=(size + 1, size))
        image = ax.imshow(np.zeros((len(labels), len(columns))), cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(columns)), _ts(columns), rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), _ts(labels))
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
        # fixed margins instead of tight_layout, which draws the figure once more per save
        fig.subplots_adjust(left=0.17, right=0.88, bottom=0.16, top=0.91)
        for index in members:
            row = rows[index]
            counts = np.array(row["confusion"]["matrix"], dtype=float)
            shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
            image.set_data(shares)
            texts = [ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=8,
                             color="white" if shares[i, j] > 0.5 else "black")
                     for i in range(counts.shape[0]) for j in range(counts.shape[1]) if counts[i, j]]
            ax.set_title(f"{_t(row['model'])} on {_t(row['task'])}\naccuracy {row['accuracy']:.3f} (n={row['n']})",
                         fontsize=10)
            fig.savefig(paths[index], dpi=110, pil_kwargs={"compress_level": 1})
            for text in texts:
                text.remove()
        plt.close(fig)
    return list(paths)


def reliability_plots(rows: list[dict], paths: list[Path]) -> list[Path]:
    """A reliability diagram per run (Guo et al. 2017): per confidence bin, the accuracy of its samples as a
    bar, the gap to their mean confidence shaded, the diagonal of perfect calibration, and below it the share
    of samples per bin; ECE with its interval and n in the title. ``rows`` all carry ``reliability`` (one
    figure is drawn once and its bars changed between saves, as in :func:`confusion_plots`)."""
    import numpy as np

    plt = _pyplot()
    if not rows:
        return []
    edges = np.asarray(rows[0]["reliability"]["edges"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig, (ax, below) = plt.subplots(2, 1, figsize=(3.9, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    accuracy = ax.bar(centres, np.zeros_like(centres), width, color="#4C72B0", edgecolor="white", linewidth=0.5,
                      label="accuracy")
    gaps = ax.bar(centres, np.zeros_like(centres), width, color=(0.87, 0.52, 0.32, 0.22), edgecolor="#C0602A",
                  hatch="//", linewidth=0.5, label="gap to mean confidence")
    shares = below.bar(centres, np.zeros_like(centres), width, color="#829AB1", edgecolor="white", linewidth=0.5)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    below.set_xlabel("confidence (top probability)")
    below.set_ylabel("share", fontsize=8)
    below.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.17, right=0.96, bottom=0.11, top=0.86, hspace=0.08)
    for row, path in zip(rows, paths):
        bins = row["reliability"]
        total = max(1, sum(bins["counts"]))
        for k, (count, right, sure) in enumerate(zip(bins["counts"], bins["accuracy"], bins["confidence"])):
            right, sure = (right or 0.0), (sure or 0.0) if count else 0.0
            accuracy[k].set_height(right)
            gaps[k].set_y(min(right, sure))
            gaps[k].set_height(abs(sure - right) if count else 0.0)
            shares[k].set_height(count / total)
        below.set_ylim(0, max(0.05, max(bins["counts"]) / total * 1.15))
        low, high = row["ece_ci"]
        ax.set_title(f"{_t(row['model'])} on {_t(row['task'])}\nECE {row['ece']:.3f} [{low:.3f}, {high:.3f}], "
                     f"n={row['calibration_n']:,}", fontsize=9)
        fig.savefig(path, dpi=100, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return list(paths)


def f1_plot(rows: list[dict], path: Path) -> Path:
    """Per-class F1, one bar group per label and one bar per model."""
    import numpy as np

    plt = _pyplot()
    labels = rows[0]["labels"]
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 2), 4.2))
    for k, row in enumerate(rows):
        values = [row["per_class"].get(label, {}).get("f1", 0.0) for label in labels]
        ax.bar(np.arange(len(labels)) + (k - (len(rows) - 1) / 2) * width, values, width, label=_t(row["model"]))
    ax.set_xticks(range(len(labels)), _ts(labels), rotation=30, ha="right")
    ax.set_ylim(0, 1.22)  # headroom for the legend above the bars
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("F1")
    ax.set_title(f"Per-class F1 on {_t(rows[0]['task'])}")
    ax.legend(fontsize=8, ncol=min(len(rows), 6), loc="upper center", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def accuracy_plot(rows: list[dict], path: Path) -> Path:
    """Accuracy per model with its 95% bootstrap CI, and the chance level of the task."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 * len(rows) + 2), 4.0))
    accuracy = [row["accuracy"] for row in rows]
    lower = [row["accuracy"] - row["accuracy_ci"][0] for row in rows]
    upper = [row["accuracy_ci"][1] - row["accuracy"] for row in rows]
    ax.bar(range(len(rows)), accuracy, color="#4C72B0")
    ax.errorbar(range(len(rows)), accuracy, yerr=[lower, upper], fmt="none", ecolor="black", capsize=4)
    chance = 1 / len(rows[0]["labels"])
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.3f})")
    ax.set_xticks(range(len(rows)), [_t(row["model"]) for row in rows], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_title(f"Accuracy on {_t(rows[0]['task'])}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scaling_plot(rows: list[dict], path: Path) -> Path | None:
    """Accuracy (with CI) against the share of instruction data, one line per model series."""
    plt = _pyplot()
    points = [row for row in rows if row.get("train_fraction") is not None]
    if len({row["train_fraction"] for row in points}) < 2:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for series in sorted({row.get("series") or row["model"] for row in points}):
        chosen = sorted((row for row in points if (row.get("series") or row["model"]) == series),
                        key=lambda row: row["train_fraction"])
        x = [100 * row["train_fraction"] for row in chosen]
        y = [row["accuracy"] for row in chosen]
        ax.plot(x, y, marker="o", label=_t(series))
        ax.fill_between(x, [row["accuracy_ci"][0] for row in chosen], [row["accuracy_ci"][1] for row in chosen],
                        alpha=0.2)
    ax.set_xlabel("instruction data used for training (%)")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Data scaling on {_t(rows[0]['task'])}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_names(rows: list[dict]) -> dict[tuple, str]:
    """The file name (without ``.png``) of every plot of ``rows``: keys ``("accuracy", task)``, ``("f1", task)``,
    ``("scaling", task)``, ``("confusion", task, model)`` and ``("reliability", task, model)``; all different,
    even ignoring case."""
    from schemas.names import unique_names

    texts: dict[tuple, str] = {}
    for row in rows:
        task, model = row["task"], row["model"]
        for kind in ("accuracy", "f1", "scaling"):
            texts[(kind, task)] = f"{kind}-{task}"
        texts[("confusion", task, model)] = f"confusion-{task}-{model}"
        texts[("reliability", task, model)] = f"reliability-{task}-{model}"
    return unique_names(texts, max_length=96)


def write_plots(rows: list[dict], folder: str | Path) -> tuple[dict[str, list[str]], dict[tuple[str, str], Path]]:
    """Every plot of the leaderboard into ``folder``; returns ``{task: [png paths]}`` and the reliability
    diagrams by ``(task, model)`` (the page shows them)."""
    from benchmarks.board.folders import inside

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = plot_names(rows)

    def png(*key) -> Path:
        return inside(folder, f"{names[key]}.png")

    written: dict[str, list[str]] = {}
    diagrams: dict[tuple[str, str], Path] = {}
    for task in dict.fromkeys(row["task"] for row in rows):
        group = [row for row in rows if row["task"] == task]
        paths = [accuracy_plot(group, png("accuracy", task)), f1_plot(group, png("f1", task))]
        scaling = scaling_plot(group, png("scaling", task))
        if scaling is not None:
            paths.append(scaling)
        paths += confusion_plots(group, [png("confusion", task, row["model"]) for row in group])
        scored = [row for row in group if row.get("reliability")]
        drawn = reliability_plots(scored, [png("reliability", task, row["model"]) for row in scored])
        diagrams.update({(task, row["model"]): path for row, path in zip(scored, drawn)})
        written[task] = [str(p) for p in [*paths, *drawn]]
    return written, diagrams


__all__ = ["accuracy_plot", "confusion_plots", "f1_plot", "plot_names", "reliability_plots", "scaling_plot",
           "write_plots"]
