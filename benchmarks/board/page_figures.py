"""The page's sections for the figures beyond accuracy (:mod:`benchmarks.board.page` places them): per task,
the statistically tied group with the minimum detectable difference, calibration with a reliability diagram per
scored run, and answer health; across tasks, the in- vs out-of-domain table.

Number cells are :func:`benchmarks.board.formats.number_cell`'s (exact values in ``data-value``, read by the
browser test); a figure that does not apply shows "–".
"""

from __future__ import annotations

from benchmarks.board.formats import data_value, escape, html_table, number_cell, p_text


def _count(value) -> str | None:
    return None if value is None else f"{value:,}"


def _model_cell(row: dict) -> str:
    return f'<td class="text" data-key="model" data-value="{escape(row["model"])}">{escape(row["model"])}</td>'


def ties_section(group: list[dict], ties: dict | None) -> str:
    """The tied group of one task (rows best first) and its minimum detectable difference."""
    if not ties:
        return ""
    rows = []
    for row in group:
        versus = ties["comparisons"].get(row["model"], {})
        tied = row.get("tied_with_best")
        flag = "–" if tied is None else "tied" if tied else "below"
        better = ", ".join(row.get("significantly_better") or []) or "–"
        rows.append(f'<tr class="{"tied" if tied else ""}" data-model="{escape(row["model"])}">'
                    f'{number_cell("rank", row["rank"], _count(row["rank"]))}{_model_cell(row)}'
                    f'{number_cell("accuracy", row["accuracy"], interval=row["accuracy_ci"])}'
                    f'<td class="text" data-key="tied_with_best" data-value="{escape(data_value(tied))}">{flag}</td>'
                    f'{number_cell("p_vs_best", versus.get("p_value"), p_text(versus.get("p_value")))}'
                    f'{number_cell("p_vs_best_holm", versus.get("p_holm"), p_text(versus.get("p_holm")))}'
                    f'<td class="text" data-key="significantly_better">{escape(better)}</td></tr>')
    mdd = ties["mdd"]
    legend = (f'Tied with the best ({escape(ties["leader"])}): exact McNemar against it over the samples both scored, '
              f'Holm-corrected over the {len(ties["comparisons"])} comparison(s), alpha {ties["alpha"]}; '
              f'rank = 1 + the models significantly better. <span class="mdd" data-key="mdd" '
              f'data-value="{mdd["value"]!r}" data-n="{mdd["n"]}">Minimum detectable difference at n = '
              f'{mdd["n"]:,}: {mdd["value"]:.3f}</span> (80% power, two-sided 5%, '
              f'(z<sub>0.975</sub> + z<sub>0.80</sub>)·√(2p(1−p)/n), p = the leader\'s accuracy {mdd["p"]:.3f}).')
    return ("<h3>Tied with the best</h3>" +
            html_table("ties small", ["#", "model", "accuracy [95% CI]", "tied with best", "McNemar p vs best",
                                  "Holm p", "significantly better"], rows) +
            f'<p class="legend">{legend}</p>')


def calibration_section(group: list[dict], images: dict[str, str]) -> str:
    """ECE, Brier and NLL of every run of a task ("–" without scores) and the reliability diagrams
    (``images``: relative path by model)."""
    if not any(row.get("ece") is not None for row in group):
        return ("<h3>Calibration</h3><p class=\"legend\">No run of this task carries per-label scores: "
                "ECE, Brier and NLL need them.</p>")
    rows = [f'<tr data-model="{escape(row["model"])}">{_model_cell(row)}'
            f'{number_cell("calibration_n", row.get("calibration_n"), _count(row.get("calibration_n")))}'
            f'{number_cell("ece", row.get("ece"), interval=row.get("ece_ci"))}'
            f'{number_cell("brier", row.get("brier"), interval=row.get("brier_ci"))}'
            f'{number_cell("nll", row.get("nll"), interval=row.get("nll_ci"))}</tr>' for row in group]
    diagrams = "".join(f'<figure class="card reliability" data-model="{escape(model)}"><img src="{escape(src)}" '
                       f'alt="reliability diagram of {escape(model)}" width="390" height="460"></figure>'
                       for model, src in images.items())
    return ("<h3>Calibration</h3>" +
            html_table("calibration small", ["model", "n", "ECE (15 bins) [95% CI]", "Brier [95% CI]",
                                         "NLL [95% CI]"], rows) +
            '<p class="legend">Probabilities: softmax of the per-label scores over the task\'s labels. ECE: 15 '
            'equal-width bins of the top probability (Guo et al. 2017); Brier: mean of Σ<sub>k</sub>(p<sub>k</sub> '
            '− y<sub>k</sub>)²; NLL: mean of −ln p<sub>gold</sub>; 95% percentile-bootstrap intervals; "–": the '
            'run carries no scores.</p>' + (f'<div class="grid">{diagrams}</div>' if diagrams else ""))


def health_section(group: list[dict]) -> str:
    """Answer health of every run of a task: the most frequent answer and its share (flagged at half or more),
    and the total-variation distance between the answers and the gold labels."""
    rows = []
    for row in group:
        flag = row.get("top_label_flag")
        rows.append(f'<tr class="{"flagged" if flag else ""}" data-model="{escape(row["model"])}">{_model_cell(row)}'
                    f'{number_cell("answered", row.get("answered"), _count(row.get("answered")))}'
                    f'<td class="text" data-key="top_label" data-value="{escape(row.get("top_label"))}">'
                    f'{escape(row.get("top_label") or "–")}</td>'
                    f'{number_cell("top_label_share", row.get("top_label_share"), interval=row.get("top_label_share_ci"))}'
                    f'<td class="text" data-key="top_label_flag" data-value="{escape(data_value(flag))}">'
                    f'{"⚑ one label holds half the answers or more" if flag else "–" if flag is None else "no"}</td>'
                    f'{number_cell("tv_distance", row.get("tv_distance"), interval=row.get("tv_distance_ci"))}</tr>')
    return ("<h3>Answer health</h3>" +
            html_table("health small", ["model", "answered", "most frequent answer", "its share [95% CI]", "flag",
                                    "TV distance to gold [95% CI]"], rows) +
            '<p class="legend">Over the readable answers (parse failures apart). Flag: the most frequent answer '
            'holds ≥ 50% of them (tasks of three or more labels). TV distance: ½ Σ<sub>k</sub> |q<sub>pred</sub>(k) '
            '− q<sub>gold</sub>(k)|. 95% percentile-bootstrap intervals.</p>')


def domains_section(domains: dict | None) -> str:
    """The in- vs out-of-domain table (nothing when the board has no out-of-domain task)."""
    if not domains or not domains.get("out_of_domain") or not domains.get("models"):
        return ""
    inside, outside, leaked = domains["in_domain"], domains["out_of_domain"], domains["leaked"]

    def name(task: str) -> str:
        return escape(task) + (f' <span class="leaked" title="images found in training data: {leaked[task]}">†</span>'
                           if task in leaked else "")

    head = ("<th class=\"text\">model</th>" + "".join(f"<th>{name(t)} (in)</th>" for t in inside) +
            "".join(f"<th>{name(t)}</th>" for t in outside) +
            "<th>out-of-domain mean, unweighted</th><th>out-of-domain mean, n-weighted</th>"
            "<th>drop (unweighted)</th><th>drop (n-weighted)</th>")
    body = []
    order = sorted(domains["models"].items(), key=lambda item: (item[1]["ood_mean"] is None,
                                                                -(item[1]["ood_mean"] or 0), item[0]))
    for model, entry in order:
        cells = {**entry["in_domain"], **entry["out_of_domain"]}
        parts = [f'<td class="text" data-key="model" data-value="{escape(model)}">{escape(model)}</td>']
        for task in inside + outside:
            found = cells.get(task)
            parts.append(number_cell(f"task:{task}", found and found["accuracy"], interval=found and found["accuracy_ci"],
                                     attrs={"data-n": found["n"] if found else ""}))
        tasks = (f' <span class="muted">({entry["ood_tasks"]}/{entry["ood_tasks_total"]} tasks)</span>'
                 if entry["ood_mean"] is not None else "")
        parts.append(number_cell("ood_mean", entry["ood_mean"], interval=entry["ood_mean_ci"], after=tasks))
        for key in ("ood_weighted_mean", "drop", "drop_weighted"):
            parts.append(number_cell(key, entry[key], interval=entry[f"{key}_ci"]))
        body.append(f'<tr data-model="{escape(model)}">{"".join(parts)}</tr>')
    note = (f'In-domain: {", ".join(map(escape, inside)) or "–"} (the first one a model has is its in-domain '
            f'accuracy); out-of-domain (held-out): {", ".join(map(escape, outside))}. Accuracy [95% CI]; the unweighted '
            'mean counts each held-out task once, the n-weighted mean pools their samples; drop = in-domain − '
            'mean; intervals of means and drops by the normal approximation, tasks independent.')
    if leaked:
        note += " † the task's images were found in training data (<code>bench leakage</code>)."
    return (f'<section id="domains"><h2>In-domain vs out-of-domain</h2><table class="domains small">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<p class="legend">{note}</p></section>')


__all__ = ["calibration_section", "domains_section", "health_section", "ties_section"]
