"""``index.html`` of a leaderboard: one self-contained page that opens from ``file://``.

No network and no CDN: the style sheet and the sorting script are inline, the charts are HTML tables coloured
by value and inline SVG, and the reliability diagrams are PNGs embedded as ``data:`` URIs. The page shows,
from the ``leaderboard.json`` rows (and the ``leaderboard_tasks.json`` document):

* a table of every run (model, task, rank, n, accuracy with its 95% CI, tied with the best, macro-F1, UAR, ECE,
  top-answer share with its flag, parse-failure rate, mode, leaked samples) whose rows reorder when a column header is clicked (numbers largest first, text A to Z;
  a second click reverses; empty cells stay last);
* the in- vs out-of-domain table, and per task the models tied with the best and the minimum detectable
  difference, calibration (ECE, Brier, NLL) with a reliability diagram per scored run, and answer health
  (:mod:`benchmarks.board.page_figures`, from ``leaderboard_tasks.json`` and the rows);
* per task, the exact McNemar p-values of every pair of models as a heat map, per-class recall of every
  model, and a confusion matrix per model (rows gold, columns predicted, last column unparsed);
* each run's provenance: where its predictions came from (our harness or an imported tool), checkpoint and
  its content digest, task file hash, library versions, git commit, device and dtype, how its answers were
  read, and the leakage count when the run config records one.

Every number cell carries its exact value in ``data-value`` (the text shows it rounded), so a browser test
can compare the page with ``leaderboard.json``.
"""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks.board.formats import escape, fixed, number_cell, p_text

ALPHA = 0.05

STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #2b6cb0; --bg: #f7f9fb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: var(--bg); }
header { background: #102a43; color: #f0f4f8; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header p { margin: 0; color: #bcccdc; max-width: 1100px; }
main { padding: 8px 28px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px 18px;
          margin: 18px 0; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 16px 0 8px; color: #334e68; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #f0f4f8; font-weight: 600; color: #334e68; }
td.text, th.text { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #9fb3c8; font-size: 11px; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--accent); }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--accent); }
table.sortable tbody tr:hover { background: #f0f7ff; }
.ci { color: var(--muted); font-size: 12px; }
.muted { color: var(--muted); }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px; }
.card h4 { margin: 0 0 6px; font-size: 13px; }
.card.provenance { width: 370px; }
.card.reliability { margin: 0; padding: 4px; }
tr.tied td { background: #eaf6ec; }
tr.flagged td { background: #fff4e5; }
.leaked { color: #c05621; font-weight: 700; }
table.heat td { min-width: 56px; text-align: center; }
table.heat td.sig { font-weight: 700; }
table.heat.confusion td, table.heat.recall td { min-width: 30px; }
table.small td, table.small th { padding: 2px 5px; font-size: 12px; }
.legend { font-size: 12px; color: var(--muted); margin: 6px 0 0; }
svg.ci-bar { vertical-align: middle; margin-left: 6px; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 12px; }
dl.prov dt { color: var(--muted); }
dl.prov dd { margin: 0; overflow-wrap: anywhere; }
code { font-size: 12px; }
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, column) {
    th.addEventListener("click", function () {
      var numeric = th.dataset.type === "num";
      var current = th.getAttribute("aria-sort");
      var direction = current ? (current === "ascending" ? "descending" : "ascending")
                              : (numeric ? "descending" : "ascending");
      Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", direction);
      var sign = direction === "ascending" ? 1 : -1;
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
        var xEmpty = x === undefined || x === "", yEmpty = y === undefined || y === "";
        if (xEmpty || yEmpty) { return xEmpty === yEmpty ? 0 : (xEmpty ? 1 : -1); }
        if (numeric) { return sign * (parseFloat(x) - parseFloat(y)); }
        return sign * x.localeCompare(y);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _blend(share: float, colour: tuple[int, int, int] = (43, 108, 176)) -> str:
    """White to ``colour`` by ``share`` (0..1), as a CSS colour; text turns white on dark cells."""
    share = min(1.0, max(0.0, share))
    r, g, b = (round(255 + (c - 255) * share) for c in colour)
    ink = "#fff" if share > 0.55 else "#1f2933"
    return f"background:rgb({r},{g},{b});color:{ink}"


def _ci_bar(low: float, accuracy: float, high: float) -> str:
    """A 90-pixel inline SVG: the 0..1 scale, the CI as a band, the accuracy as a tick."""
    width = 90

    def x(v: float) -> float:
        return round(1 + v * (width - 2), 1)

    return (f'<svg class="ci-bar" width="{width}" height="10" viewBox="0 0 {width} 10" aria-hidden="true">'
            f'<rect x="1" y="4" width="{width - 2}" height="2" fill="#d9e2ec"/>'
            f'<rect x="{x(low)}" y="2" width="{max(1.0, x(high) - x(low))}" height="6" fill="#9ec5f0"/>'
            f'<rect x="{x(accuracy) - 1}" y="0" width="2" height="10" fill="#2b6cb0"/></svg>')


COLUMNS = (("model", "model", "text"), ("task", "task", "text"), ("rank", "# in task", "num"), ("n", "n", "num"),
           ("accuracy", "accuracy [95% CI]", "num"), ("tied_with_best", "tied with best", "text"),
           ("macro_f1", "macro-F1", "num"), ("uar", "UAR", "num"), ("ece", "ECE", "num"),
           ("top_label_share", "top answer share", "num"), ("parse_failure_rate", "parse failures", "num"),
           ("mode", "mode", "text"), ("leaked", "leaked", "num"))


def _tied(value) -> str:
    data = "" if value is None else "true" if value else "false"
    text = "–" if value is None else "= best" if value else "below"
    return f'<td class="text" data-key="tied_with_best" data-value="{data}">{text}</td>'


def overview_table(rows: list[dict]) -> str:
    """The sortable table of every run."""
    head = "".join(f'<th class="{"text" if kind == "text" else ""}" data-key="{key}" data-type="{kind}">{escape(title)}</th>'
                   for key, title, kind in COLUMNS)
    body = []
    for row in rows:
        low, high = row["accuracy_ci"]
        cells = [
            f'<td class="text" data-key="model" data-value="{escape(row["model"])}">{escape(row["model"])}</td>',
            f'<td class="text" data-key="task" data-value="{escape(row["task"])}">{escape(row["task"])}</td>',
            number_cell("rank", row["rank"], "–" if row["rank"] is None else str(row["rank"])),
            number_cell("n", row["n"], f"{row['n']:,}"),
            (f'<td data-key="accuracy" data-value="{row["accuracy"]!r}" data-ci-low="{low!r}" '
             f'data-ci-high="{high!r}">{row["accuracy"]:.3f} <span class="ci">[{low:.3f}, {high:.3f}]</span>'
             f'{_ci_bar(low, row["accuracy"], high)}</td>'),
            _tied(row.get("tied_with_best")),
            number_cell("macro_f1", row["macro_f1"]),
            number_cell("uar", row["uar"]),
            number_cell("ece", row.get("ece")),
            number_cell("top_label_share", row.get("top_label_share"),
                 None if row.get("top_label_share") is None else
                 f"{row['top_label_share']:.3f}{' ⚑' if row.get('top_label_flag') else ''}"),
            number_cell("parse_failure_rate", row["parse_failure_rate"]),
            f'<td class="text" data-key="mode" data-value="{escape(row["mode"])}">{escape(row["mode"])}</td>',
            number_cell("leaked", row.get("leaked"), "–" if row.get("leaked") is None else f"{row['leaked']:,}"),
        ]
        tied = ' class="tied"' if row.get("tied_with_best") else ""
        body.append(f'<tr{tied} data-model="{escape(row["model"])}" data-task="{escape(row["task"])}">{"".join(cells)}</tr>')
    return (f'<table id="board" class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def mcnemar_heatmap(group: list[dict]) -> str:
    """Pairwise exact McNemar p-values of one task's models; darker = smaller p, bold = p < 0.05."""
    models = [row["model"] for row in group]
    head = "".join(f"<th>{escape(m)}</th>" for m in models)
    body = []
    for row in group:
        cells = []
        for other in models:
            if other == row["model"]:
                cells.append('<td class="muted">·</td>')
            elif other in row["mcnemar"]:
                p = row["mcnemar"][other]
                shade = min(1.0, -math.log10(max(p, 1e-300)) / 6)
                n = row["mcnemar_detail"].get(other, {}).get("n")
                cells.append(f'<td class="{"sig" if p < ALPHA else ""}" style="{_blend(shade)}" '
                             f'data-row="{escape(row["model"])}" data-col="{escape(other)}" data-value="{p!r}" '
                             f'title="n = {n}">{p_text(p)}</td>')
            else:
                cells.append(f'<td class="muted" data-row="{escape(row["model"])}" data-col="{escape(other)}">–</td>')
        body.append(f'<tr><th class="text">{escape(row["model"])}</th>{"".join(cells)}</tr>')
    return (f'<table class="heat mcnemar"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            f'</table><p class="legend">Exact McNemar p over the samples both models scored (hover: how many); '
            f'darker is smaller, bold is p &lt; {ALPHA}.</p>')


def recall_table(group: list[dict]) -> str:
    """Per-class recall of one task's models, shaded by value."""
    labels = group[0]["labels"]
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    body = []
    for row in group:
        cells = []
        for label in labels:
            recall = row["per_class"].get(label, {}).get("recall")
            style = "" if recall is None else f' style="{_blend(recall)}"'
            cells.append(f'<td data-row="{escape(row["model"])}" data-col="{escape(label)}" '
                         f'data-value="{"" if recall is None else repr(recall)}"{style}>{fixed(recall, 2)}</td>')
        body.append(f'<tr><th class="text">{escape(row["model"])}</th>{"".join(cells)}</tr>')
    return (f'<table class="heat recall small"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _short(label: str) -> str:
    """A column heading short enough for a compact matrix (the full label is the cell's tooltip)."""
    return "none" if label.startswith("(") else label if len(label) <= 5 else label[:4] + "."


def confusion_table(row: dict) -> str:
    """One model's confusion matrix: counts, shaded by the share of their gold row."""
    confusion = row["confusion"]
    head = "".join(f'<th title="{escape(c)}">{escape(_short(c))}</th>' for c in confusion["columns"])
    body = []
    for label, counts in zip(confusion["labels"], confusion["matrix"]):
        total = max(1, sum(counts))
        cells = "".join(f'<td data-value="{c}" style="{_blend(c / total)}">{c}</td>' for c in counts)
        body.append(f'<tr><th class="text">{escape(label)}</th>{cells}</tr>')
    return (f'<div class="card"><h4>{escape(row["model"])} <span class="muted">accuracy {row["accuracy"]:.3f}, '
            f'n={row["n"]:,}</span></h4><table class="heat confusion small" data-model="{escape(row["model"])}">'
            f'<thead><tr><th class="text">gold \\ pred.</th>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            f'</table></div>')


def _versions(versions: dict | None) -> str:
    if not versions:
        return "–"
    return ", ".join(f"{name} {value}" for name, value in sorted(versions.items()) if value)


def provenance(row: dict) -> str:
    """Where one run's figures come from."""
    rules = row.get("parse_rules")
    reading = ("answers read by our parser: " + ", ".join(f"{k} {v}" for k, v in rules.items())
               + f"; stated labels not confirmed: {row.get('reparse_changed', 0)}") if rules else \
        "labels as stated (ranked scores or given labels)"
    items = [
        ("from", f"imported from {row['imported_from']}" if row.get("imported_from") else "emovit harness"),
        ("checkpoint", row.get("checkpoint")),
        ("checkpoint digest", row.get("checkpoint_identity")),
        ("task file hash", row.get("task_hash")),
        ("versions", _versions(row.get("versions"))),
        ("git commit", row.get("git_commit")),
        ("device, dtype", ", ".join(str(x) for x in (row.get("device"), row.get("dtype")) if x) or None),
        ("answers", reading),
        ("leaked samples", "not recorded" if row.get("leaked") is None else f"{row['leaked']:,}"),
        ("predictions", row.get("source")),
    ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v if v not in (None, '') else '–')}</dd>" for k, v in items)
    return (f'<div class="card provenance" data-model="{escape(row["model"])}" data-task="{escape(row["task"])}">'
            f'<h4>{escape(row["model"])} on {escape(row["task"])}</h4><dl class="prov">{body}</dl></div>')


def render(rows: list[dict], *, title: str = "Leaderboard", tasks: dict | None = None,
           images: dict[tuple[str, str], str] | None = None) -> str:
    """The whole page for ``leaderboard.json`` rows, with the per-task and cross-task sections of ``tasks``
    (the ``leaderboard_tasks.json`` document) and the reliability diagrams ``images`` (image URIs by
    ``(task, model)``)."""
    from benchmarks.board.page_figures import (
        calibration_section,
        domains_section,
        health_section,
        ties_section,
    )
    from benchmarks.board.page_sections import task_sections_html

    documents = (tasks or {}).get("tasks", {})
    images = images or {}
    names = list(dict.fromkeys(row["task"] for row in rows))
    seed = rows[0]["bootstrap_seed"] if rows else 0
    intro = (f"{len(rows)} runs of {len({r['model'] for r in rows})} models on {len(names)} task(s), recomputed "
             f"from per-sample predictions alone. Accuracy (= WA) with a 95% percentile-bootstrap CI (seed {seed}, "
             "2,000 resamples); macro-F1 and UAR over the task's labels; parse failures count as wrong; every "
             "generated answer is read by the same parser, whichever tool produced it. Click a column header "
             "to sort. Rows tied with their task's best (exact McNemar, Holm-corrected) are shaded.")
    sections = [f'<section id="overview"><h2>All runs</h2>{overview_table(rows)}</section>',
                domains_section((tasks or {}).get("domains"))]
    for task in names:
        group = [row for row in rows if row["task"] == task]
        document = documents.get(task, {})
        parts = [(f'<h2>{escape(task)} <span class="muted">({len(group)} models, '
                  f'{len(group[0]["labels"])} labels)</span></h2>')]
        parts.append(ties_section(group, document.get("ties")))
        parts.append(calibration_section(group, {model: src for (name, model), src in images.items()
                                                 if name == task}))
        parts.append(health_section(group))
        parts.append(task_sections_html(task, document))
        if len(group) > 1 and document.get("ranked", True):
            parts.append(f"<h3>McNemar p-values</h3>{mcnemar_heatmap(group)}")
        parts.append(f"<h3>Per-class recall</h3>{recall_table(group)}")
        parts.append(f'<h3>Confusion matrices</h3><div class="grid">{"".join(map(confusion_table, group))}</div>')
        parts.append(f'<h3>Provenance</h3><div class="grid">{"".join(map(provenance, group))}</div>')
        sections.append(f'<section class="task" data-task="{escape(task)}">{"".join(parts)}</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p>{escape(intro)}</p></header><main>{''.join(sections)}</main>"
            f"<script>{SCRIPT}</script></body></html>\n")


def write_page(rows: list[dict], path: str | Path, *, title: str = "Leaderboard", tasks: dict | None = None,
               images: dict[tuple[str, str], Path] | None = None) -> Path:
    """Write :func:`render` of ``rows`` to ``path``; returns it. ``images`` (PNG files by ``(task, model)``: the
    reliability diagrams) are embedded as ``data:`` URIs, so the page stays one file."""
    import base64

    path = Path(path)
    embedded = {key: "data:image/png;base64," + base64.b64encode(Path(image).read_bytes()).decode("ascii")
                for key, image in (images or {}).items()}
    path.write_text(render(rows, title=title, tasks=tasks, images=embedded), encoding="utf-8")
    return path


__all__ = ["render", "write_page"]
