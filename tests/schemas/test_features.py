"""``schemas.features.column`` reads exactly the rows a dataset holds, after any row selection."""

from __future__ import annotations

import datasets

from schemas.features import column


def test_column_respects_select_filter_and_shuffle():
    base = datasets.Dataset.from_dict({"n": list(range(20)), "label": [i % 3 for i in range(20)]},
                                      features=datasets.Features({"n": datasets.Value("int64"),
                                                                  "label": datasets.ClassLabel(names=["a", "b", "c"])}))
    views = {
        "whole": base,
        "select": base.select([7, 3, 3, 19]),
        "filter": base.filter(lambda n: n % 4 == 1, input_columns="n"),
        "shuffle": base.shuffle(seed=1),
        "filter of select": base.select(range(5, 15)).filter(lambda label: label == 2, input_columns="label"),
    }
    for name, view in views.items():
        assert column(view, "n") == [row["n"] for row in view], name
        assert column(view, "label") == [row["label"] for row in view], name  # class ids, not names
    assert column(views["select"], "n") == [7, 3, 3, 19]
