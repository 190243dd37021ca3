"""What the LLM judges of the reasoning task say about a run: each judge's consistent share and, with two judges,
how far they agree beyond chance (Cohen's kappa). Pure functions of the ``judge.jsonl`` rows beside a run's
predictions (:mod:`benchmarks.run.judge`); every result is plain JSON (``None``, never NaN, where a figure is
not defined).

* A verdict row is ``{"id", "judge", "verdict"}``; ``verdict`` is ``consistent``, ``inconsistent`` or null (no
  answer to grade, no usable reply). A row without ``judge`` (a file written before judges had names) belongs to
  the judge :data:`DEFAULT_JUDGE`. Judges are taken in the order they first appear in the file (config order).
* **Consistent share** of a judge: ``k / n``, with ``n`` the answers it gave a verdict (null verdicts left out)
  and ``k`` those judged consistent; 95% Wilson score interval
  ``(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)``, ``z = z₀.₉₇₅``. ``None`` when ``n = 0``.
* **Cohen's kappa** of two judges over the ``n`` answers both gave a verdict, from their 2x2 table (``a``: both
  consistent, ``d``: both inconsistent, ``b``/``c``: they differ): observed agreement ``p_o = (a + d) / n``,
  chance agreement ``p_e = p₁·p₂ + (1 − p₁)(1 − p₂)`` with ``pᵢ`` judge i's consistent share over those ``n``,
  ``κ = (p_o − p_e) / (1 − p_e)``. ``None`` when ``n = 0`` or ``p_e = 1`` (both judges gave one and the same
  verdict to every answer: agreement beyond chance is undefined).
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_JUDGE = "judge"
VERDICTS = ("consistent", "inconsistent")


def verdicts_by_judge(rows: Iterable[dict]) -> dict[str, dict[str, str | None]]:
    """``{judge: {answer id: verdict}}`` of ``judge.jsonl`` rows, judges in order of first appearance; a verdict
    other than consistent/inconsistent counts as none."""
    judges: dict[str, dict[str, str | None]] = {}
    for row in rows:
        verdict = row.get("verdict")
        judges.setdefault(str(row.get("judge") or DEFAULT_JUDGE), {})[str(row.get("id"))] = \
            verdict if verdict in VERDICTS else None
    return judges


def wilson_interval(successes: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of ``successes / n`` as ``[low, high]``; ``None`` when ``n = 0``."""
    if n == 0:
        return None
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return [max(0.0, float(low)), min(1.0, float(high))]


def consistent_share(verdicts: dict[str, str | None]) -> dict:
    """One judge's figures: ``answers`` (rows), ``n`` (answers with a verdict), ``consistent``, ``share`` and
    ``ci`` (see the module docs)."""
    given = [v for v in verdicts.values() if v is not None]
    consistent = given.count("consistent")
    return {"answers": len(verdicts), "n": len(given), "consistent": consistent,
            "share": consistent / len(given) if given else None, "ci": wilson_interval(consistent, len(given))}


def cohen_kappa(first: dict[str, str | None], second: dict[str, str | None]) -> dict:
    """Cohen's kappa of two judges over the answers both gave a verdict: ``n``, the 2x2 ``table``
    (``[[both consistent, first only], [second only, both inconsistent]]``), ``observed`` (p_o), ``expected``
    (p_e) and ``kappa`` (``None`` when ``n = 0`` or ``p_e = 1``)."""
    both = [(first[i], second[i]) for i in first if first[i] is not None and second.get(i) is not None]
    n = len(both)
    a = sum(x == "consistent" and y == "consistent" for x, y in both)
    b = sum(x == "consistent" and y == "inconsistent" for x, y in both)
    c = sum(x == "inconsistent" and y == "consistent" for x, y in both)
    d = n - a - b - c
    figures = {"n": n, "table": [[a, b], [c, d]], "observed": None, "expected": None, "kappa": None}
    if n == 0:
        return figures
    observed = (a + d) / n
    p1, p2 = (a + b) / n, (a + c) / n
    expected = p1 * p2 + (1 - p1) * (1 - p2)
    figures.update(observed=observed, expected=expected)
    if expected < 1.0:
        figures["kappa"] = (observed - expected) / (1.0 - expected)
    return figures


def run_judges(rows: Iterable[dict]) -> dict:
    """The judge figures of one run: ``judges`` (``{name: consistent_share(...)}``, in order) and ``agreement``
    (one entry per pair of judges, ``{"judges": [first, second], **cohen_kappa(...)}``)."""
    judges = verdicts_by_judge(rows)
    names = list(judges)
    agreement = [{"judges": [x, y], **cohen_kappa(judges[x], judges[y])}
                 for position, x in enumerate(names) for y in names[position + 1:]]
    return {"judges": {name: consistent_share(judges[name]) for name in names}, "agreement": agreement}


def judge_row_keys(rows: Iterable[dict]) -> dict:
    """Flat ``leaderboard.json`` row keys of one run's judges, numbered in judge order (k = 1, 2, ...):
    ``judge_k_name``, ``judge_k_consistent_share``, ``judge_k_n``, ``judge_k_ci``; with two or more judges also
    ``judge_kappa`` and ``judge_kappa_n`` (judges 1 and 2). Empty when the run has no verdicts."""
    figures = run_judges(rows)
    keys: dict = {}
    for number, (name, share) in enumerate(figures["judges"].items(), start=1):
        keys.update({f"judge_{number}_name": name, f"judge_{number}_consistent_share": share["share"],
                     f"judge_{number}_n": share["n"], f"judge_{number}_ci": share["ci"]})
    if figures["agreement"]:
        first = figures["agreement"][0]
        keys.update(judge_kappa=first["kappa"], judge_kappa_n=first["n"])
    return keys


def judges_section(rows_by_model: dict[str, list[dict]]) -> dict | None:
    """The ``judges`` section of one task in ``leaderboard_tasks.json``: ``{"judges": [every judge name, in
    order], "models": {model: run_judges(rows)}}`` for the models with verdict rows; ``None`` when none has."""
    models = {model: run_judges(rows) for model, rows in sorted(rows_by_model.items()) if rows}
    if not models:
        return None
    names: list[str] = []
    for figures in models.values():
        names.extend(name for name in figures["judges"] if name not in names)
    return {"judges": names, "models": models}


__all__ = ["DEFAULT_JUDGE", "VERDICTS", "cohen_kappa", "consistent_share", "judge_row_keys", "judges_section",
           "run_judges", "verdicts_by_judge", "wilson_interval"]
