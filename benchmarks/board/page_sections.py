"""The page's and ``leaderboard.md``'s tables of a task's human-vote, slice, polarity-error, probe and judge
sections (``leaderboard_tasks.json``, :mod:`benchmarks.score.votes`, :mod:`benchmarks.score.slices`,
:mod:`benchmarks.score.probes`, :mod:`benchmarks.score.judges`).

HTML number cells are :func:`benchmarks.board.formats.number_cell`'s, as on the rest of the page, so a browser
test can compare them with ``leaderboard_tasks.json``; "–" marks a figure that does not apply.
"""

from __future__ import annotations

from benchmarks.board.formats import escape, fixed, html_table, number_cell


def _ci(figure: dict | None, key: str = "rate") -> str:
    """``0.500 [0.200, 0.800]`` of a ``{rate|mean, ci}`` figure (``–`` when absent)."""
    if not figure or figure.get(key) is None:
        return "–"
    ci = figure.get("ci")
    return fixed(figure[key]) + (f" [{fixed(ci[0])}, {fixed(ci[1])}]" if ci else "")


def _block(name: str, title: str, body: str) -> str:
    return f'<div class="task-section" data-section="{name}"><h3>{escape(title)}</h3>{body}</div>'


# ------------------------------------------------------------------------------------------ HTML
def human_votes_section(section: dict) -> str:
    """Agreement with human votes: per model majority accuracy, KL, JS, valence Spearman; the human reference
    line below, never ranked."""
    rows = []
    for model, found in section["models"].items():
        majority, kl, js = found["majority_accuracy"], found.get("kl") or {}, found.get("js") or {}
        spearman = (found.get("valence_spearman") or {}).get("rho")
        rows.append(f'<tr><td class="text">{escape(model)}</td>{number_cell("n", found["n"], str(found["n"]), model=model)}'
                    f'{number_cell("majority_accuracy", majority["rate"], _ci(majority), model=model)}'
                    f'{number_cell("human_kl", kl.get("mean"), _ci(kl, "mean"), model=model)}'
                    f'{number_cell("human_js", js.get("mean"), _ci(js, "mean"), model=model)}'
                    f'{number_cell("valence_spearman", spearman, None, model=model)}</tr>')
    reference = section["human_reference"]
    rows.append(f'<tr class="reference muted"><td class="text">human reference (one annotator, not ranked)</td>'
                f'{number_cell("reference_n", reference["n"], str(reference["n"]))}'
                f'{number_cell("human_reference", reference["mean"], _ci(reference, "mean"))}<td>–</td><td>–</td><td>–</td></tr>')
    note = (f'<p class="legend">Human distribution: {escape(section["distribution"])}. {section["n_images"]} images with '
            f'votes, {section["tied"]} with a tied majority. KL(human ‖ model) in nats, JS in bits (base 2), means '
            "over images with 95% normal intervals; majority accuracy with a 95% Wilson interval. Spearman: "
            "the model's probability of the positive labels ("
            f'{escape(", ".join(section["positive_labels"]) or "none")}) against the human valence rating.</p>')
    return _block("human_votes", "Agreement with human votes",
                  html_table("small", ["model", "n", "majority accuracy [95% CI]", "KL(human‖model)", "JS (bits)",
                          "valence Spearman"], rows) + note)


def slices_section(section: dict) -> str:
    """The five hardest slices per model (n ≥ the section's minimum), then accuracy per value of every
    attribute (folded)."""
    rows = []
    for model, slices in section["hardest"].items():
        for found in slices or [None]:
            if found is None:
                rows.append(f'<tr><td class="text">{escape(model)}</td><td class="text muted" colspan="3">'
                            f'no slice with n ≥ {section["hardest_min_n"]}</td></tr>')
                continue
            rows.append(f'<tr><td class="text">{escape(model)}</td><td class="text">{escape(found["attribute"])} = '
                        f'{escape(found["value"])}</td>{number_cell("slice_n", found["n"], str(found["n"]), model=model)}'
                        f'{number_cell("slice_accuracy", found["rate"], _ci(found), model=model)}</tr>')
    hardest = html_table("small", ["model", "slice", "n", "accuracy [95% CI]"], rows)
    models = list(section["hardest"])
    folded = []
    for attribute, values in section["attributes"].items():
        body = [f'<tr data-attribute="{escape(attribute)}" data-value="{escape(value)}"><td class="text">{escape(value)}</td>'
                + "".join(number_cell("slice_accuracy", (per.get(m) or {}).get("rate"),
                                      f'{_ci(per.get(m))} (n={(per.get(m) or {}).get("n", 0)})', model=m)
                          for m in models)
                + "</tr>" for value, per in values.items()]
        folded.append(f'<details><summary>{escape(attribute)} ({len(values)} values)</summary>'
                      f'{html_table("small", [attribute, *models], body)}</details>')
    note = (f'<p class="legend">Accuracy per EmoSet attribute value with n and a 95% Wilson interval; brightness and '
            f'colourfulness in bins of {section["bin_width"]}; an image is in the slice of every object it shows. '
            f'Hardest: the five lowest accuracies among slices with n ≥ {section["hardest_min_n"]}.</p>')
    return _block("slices", "Hardest slices (EmoSet attributes)", hardest + note + "".join(folded))


def polarity_errors_section(section: dict) -> str:
    """Errors split into same-polarity and cross-polarity (plus unpolarised and unanswered)."""
    rows = [f'<tr><td class="text">{escape(model)}</td>{number_cell("errors", f["errors"], str(f["errors"]), model=model)}'
            f'{number_cell("same_polarity_errors", f["same_polarity"], str(f["same_polarity"]), model=model)}'
            f'{number_cell("cross_polarity_errors", f["cross_polarity"], str(f["cross_polarity"]), model=model)}'
            f'{number_cell("unpolarised_errors", f["unpolarised"], str(f["unpolarised"]), model=model)}'
            f'{number_cell("unanswered", f["unanswered"], str(f["unanswered"]), model=model)}'
            f'{number_cell("cross_polarity_share", f["cross_share"]["rate"], _ci(f["cross_share"]), model=model)}</tr>'
            for model, f in section["models"].items()]
    positive = [k for k, v in section["polarity"].items() if v == "positive"]
    note = (f'<p class="legend">Same polarity: gold and answer both positive ({escape(", ".join(positive))}) or both '
            "negative; cross: one of each; unpolarised: gold or answer without a polarity. Cross share = cross / "
            "(same + cross), 95% Wilson interval.</p>")
    return _block("polarity_errors", "Errors by polarity",
                  html_table("small", ["model", "errors", "same polarity", "cross polarity", "unpolarised", "unanswered",
                          "cross share [95% CI]"], rows) + note)


def probes_section(section: dict) -> str:
    """Option-order flip rates and gold-first/last accuracy; the blank probe's label prior beside chance."""
    parts = []
    if section.get("models"):
        variants = list(section["option_orders"])
        rows = []
        for model, found in section["models"].items():
            flips = found.get("flip_rate") or {}
            cells = "".join(number_cell(f"flip_rate_{v}", (flips.get(v) or {}).get("rate"),
                                        f'{_ci(flips.get(v))} (n={(flips.get(v) or {}).get("n", 0)})', model=model)
                            for v in variants)
            first, last = found.get("gold_first") or {}, found.get("gold_last") or {}
            share = found.get("first_option_share") or {}
            first_text, last_text = f"{_ci(first)} (n={first.get('n', 0)})", f"{_ci(last)} (n={last.get('n', 0)})"
            rows.append(f'<tr><td class="text">{escape(model)}</td>{cells}'
                        f'{number_cell("gold_first_accuracy", first.get("rate"), first_text, model=model)}'
                        f'{number_cell("gold_last_accuracy", last.get("rate"), last_text, model=model)}'
                        f'{number_cell("first_option_share", share.get("rate"), _ci(share), model=model)}</tr>')
        parts.append(html_table("small", ["model", *(f"flips: {v}" for v in variants), "accuracy, gold listed first",
                             "accuracy, gold listed last", "answers = first option"], rows))
        parts.append(f'<p class="legend">Flip rate: share of images whose answer under an option order differs from '
                     f'the answer under {escape(section["reference_variant"])} (95% Wilson). Gold first / last: accuracy '
                     "over the shuffled-order rows whose gold label was listed first / last.</p>")
    if section.get("blank") is not None:
        labels = list(next(iter(section["blank"].values()))["predicted"]) if section["blank"] else []
        rows = [f'<tr><td class="text">{escape(model)}</td>'
                f'{number_cell("blank_accuracy", f["accuracy"]["rate"], _ci(f["accuracy"]), model=model)}'
                f'{number_cell("chance", section["chance"], None, model=model)}'
                + "".join(number_cell(f"predicted_{label}", f["predicted"][label], None, model=model) for label in labels)
                + f'{number_cell("unanswered", f["unanswered"], None, model=model)}</tr>'
                for model, f in section["blank"].items()]
        parts.append(html_table("small heat", ["model", "accuracy [95% CI]", "chance", *labels, "unparsed"], rows))
        parts.append('<p class="legend">Blank probe: a uniform grey image asked the task\'s question. Accuracy beside '
                     "chance level and the share of answers per label show the model's label prior; never ranked.</p>")
    return _block("probes", "Probes" + (" (blank image, not ranked)" if section.get("blank") is not None else ""),
                  "".join(parts))


def _kappa(found: dict) -> dict | None:
    """The agreement entry of a model's first two judges (``None`` with one judge)."""
    return found["agreement"][0] if found.get("agreement") else None


def judges_section(section: dict) -> str:
    """The LLM judges of the reasoning task: per model each judge's consistent share and Cohen's kappa of the
    first two judges."""
    names = section["judges"]
    rows = []
    for model, found in section["models"].items():
        cells = "".join(number_cell(f"consistent_share:{name}", (found["judges"].get(name) or {}).get("share"),
                                    _ci(found["judges"].get(name), "share"), model=model) for name in names)
        kappa = _kappa(found)
        if len(names) > 1:
            value = None if kappa is None else kappa["kappa"]
            cells += number_cell("kappa", value, "–" if value is None else f"{value:.3f} (n {kappa['n']})", model=model)
        rows.append(f'<tr><td class="text">{escape(model)}</td>{cells}</tr>')
    headers = ["model", *(f"consistent: {name} [95% CI]" for name in names)] + (["Cohen's kappa"] if len(names) > 1
                                                                              else [])
    legend = ('<p class="legend">Share of the answers a judge gave a verdict that it judged consistent with the gold '
              "emotion (Wilson interval); Cohen's kappa over the answers both judges graded.</p>")
    return _block("judges", "LLM judges (reasoning)", html_table("small", headers, rows) + legend)


def task_sections_html(task: str, task_doc: dict | None) -> str:
    """Every section of one task's ``leaderboard_tasks.json`` entry that applies, as HTML (``""`` for none)."""
    renderers = (("human_votes", human_votes_section), ("slices", slices_section),
                 ("polarity_errors", polarity_errors_section), ("probes", probes_section), ("judges", judges_section))
    return "".join(render(task_doc[name]) for name, render in renderers if (task_doc or {}).get(name))


# ------------------------------------------------------------------------------------------ Markdown
def task_markdown(task: str, task_doc: dict | None) -> list[str]:
    """``leaderboard.md`` lines of one task's sections (an empty list for none)."""
    from tabulate import tabulate

    from benchmarks.board.escape import markdown_text as md

    def table(headers, body) -> list[str]:
        return [tabulate(body, headers=headers, tablefmt="github", disable_numparse=True), ""]

    doc, lines = task_doc or {}, []
    if doc.get("human_votes"):
        section = doc["human_votes"]
        body = [[md(m), f["n"], _ci(f["majority_accuracy"]), _ci(f.get("kl"), "mean"), _ci(f.get("js"), "mean"),
                 fixed((f.get("valence_spearman") or {}).get("rho"))] for m, f in section["models"].items()]
        body.append(["human reference (not ranked)", section["human_reference"]["n"],
                     _ci(section["human_reference"], "mean"), "–", "–", "–"])
        lines += [f"Agreement with human votes ({section['distribution']}):", ""]
        lines += table(["model", "n", "majority accuracy [95% CI]", "KL(human‖model)", "JS (bits)", "valence Spearman"],
                       body)
    if doc.get("slices"):
        section = doc["slices"]
        body = [[md(m), f"{s['attribute']} = {md(s['value'])}", s["n"], _ci(s)]
                for m, found in section["hardest"].items() for s in found]
        lines += [f"Hardest slices (EmoSet attributes, n ≥ {section['hardest_min_n']}):", ""]
        lines += table(["model", "slice", "n", "accuracy [95% CI]"], body) if body else ["(none)", ""]
    if doc.get("polarity_errors"):
        body = [[md(m), f["errors"], f["same_polarity"], f["cross_polarity"], f["unpolarised"], f["unanswered"],
                 _ci(f["cross_share"])] for m, f in doc["polarity_errors"]["models"].items()]
        lines += ["Errors by polarity:", ""]
        lines += table(["model", "errors", "same polarity", "cross polarity", "unpolarised", "unanswered",
                        "cross share [95% CI]"], body)
    probes = doc.get("probes") or {}
    if probes.get("models"):
        variants = list(probes["option_orders"])
        body = [[md(m), *(_ci((f.get("flip_rate") or {}).get(v)) for v in variants), _ci(f.get("gold_first")),
                 _ci(f.get("gold_last")), _ci(f.get("first_option_share"))] for m, f in probes["models"].items()]
        lines += [f"Option order (flips against {md(probes['reference_variant'])}):", ""]
        lines += table(["model", *(f"flips: {md(v)}" for v in variants), "acc. gold first", "acc. gold last",
                        "answers = first option"], body)
    if probes.get("blank"):
        labels = list(next(iter(probes["blank"].values()))["predicted"])
        body = [[md(m), _ci(f["accuracy"]), fixed(probes["chance"]), *(fixed(f["predicted"][x]) for x in labels),
                 fixed(f["unanswered"])] for m, f in probes["blank"].items()]
        lines += ["Blank image (label prior; not ranked):", ""]
        lines += table(["model", "accuracy [95% CI]", "chance", *map(md, labels), "unparsed"], body)
    if doc.get("judges"):
        section = doc["judges"]
        names = section["judges"]
        body = []
        for m, f in section["models"].items():
            kappa = _kappa(f)
            body.append([md(m), *(_ci(f["judges"].get(name), "share") for name in names),
                         *(["–" if kappa is None or kappa["kappa"] is None else f"{kappa['kappa']:.3f} (n {kappa['n']})"]
                           if len(names) > 1 else [])])
        lines += ["LLM judges (reasoning supports the gold emotion; Wilson 95% CI):", ""]
        lines += table(["model", *(f"consistent: {md(name)}" for name in names),
                        *(["Cohen's kappa"] if len(names) > 1 else [])], body)
    return lines


__all__ = ["human_votes_section", "judges_section", "polarity_errors_section", "probes_section", "slices_section", "task_markdown",
           "task_sections_html"]
