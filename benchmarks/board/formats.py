"""How the board writes a number, in ``leaderboard.md`` and on the page, and the page's number cell and table.

A figure that does not apply is "–". A number cell carries its figure's name in ``data-key`` (and the row's
model in ``data-model``) and the exact value in ``data-value`` (``data-ci-low``/``data-ci-high`` for an
interval), so a browser test can compare the page with ``leaderboard.json`` and ``leaderboard_tasks.json``.
Every name and value is escaped: model and task names come from files we did not write.
"""

from __future__ import annotations

import html


def escape(value) -> str:
    """``value`` as HTML text or attribute value (``None``: empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def fixed(value, digits: int = 3) -> str:
    """``value`` to ``digits`` places; "–" for ``None``."""
    return "–" if value is None else f"{value:.{digits}f}"


def p_text(value) -> str:
    """A p-value to 4 places, ``<0.0001`` below that; "–" for ``None``."""
    return "–" if value is None else "<0.0001" if value < 1e-4 else f"{value:.4f}"


def data_value(value) -> str:
    """The exact value for a ``data-value`` attribute: ``repr`` of a float, ``true``/``false``, empty for ``None``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(float(value)) if isinstance(value, float) else str(value)


def number_cell(key: str, value, text: str | None = None, *, interval=None, model: str | None = None,
                attrs: dict | None = None, after: str = "") -> str:
    """A ``<td>`` showing ``text`` (else ``value`` to 3 places, "–" for ``None``), with ``interval`` in smaller
    print when there is a value; ``attrs`` are further attributes, ``after`` is HTML placed after the number."""
    shown = escape(text if text is not None else fixed(value))
    extra = f' data-model="{escape(model)}"' if model is not None else ""
    extra += f' data-value="{escape(data_value(value))}"'
    if value is not None and interval:
        low, high = interval
        extra += f' data-ci-low="{low!r}" data-ci-high="{high!r}"'
        shown += f' <span class="ci">[{low:.3f}, {high:.3f}]</span>'
    extra += "".join(f' {name}="{escape(attribute)}"' for name, attribute in (attrs or {}).items())
    return f'<td data-key="{escape(key)}"{extra}>{shown}{after}</td>'


def html_table(css: str, headers: list[str], rows: list[str]) -> str:
    """A table of class ``css``: ``headers`` escaped (the first one a text column) over the ``rows`` HTML."""
    head = "".join(f'<th class="text">{escape(h)}</th>' if i == 0 else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


__all__ = ["data_value", "escape", "fixed", "html_table", "number_cell", "p_text"]
