"""Strings from other people's files (model, task, label and variant names) written into a document we
publish, escaped for that document's format so they stay text: Markdown tables and headings (where raw HTML
would run and ``|`` or a line break would cut a table) and CSV cells (where a leading ``=``, ``+``, ``-`` or
``@`` makes a spreadsheet formula). The HTML page escapes with :func:`html.escape` (:mod:`benchmarks.board.page`).
"""

from __future__ import annotations

import unicodedata

#: Characters that start Markdown syntax (links, images, emphasis, code, headings, tables, escapes).
_MARKDOWN = set("\\`*_{}[]()#!|~")
#: Characters that make raw HTML (or an HTML entity) in Markdown: written as entities.
_HTML = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
#: First characters that make a spreadsheet cell a formula (OWASP's list; tab and carriage return too).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(value) -> str:
    """``value`` as literal text inside a Markdown table cell, heading or link text: HTML characters as
    entities, Markdown punctuation backslash-escaped, every line break and control character a space."""
    out = []
    for char in "" if value is None else str(value):
        if char in _HTML:
            out.append(_HTML[char])
        elif char in _MARKDOWN:
            out.append("\\" + char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def csv_cell(value):
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


__all__ = ["FORMULA_STARTS", "csv_cell", "markdown_text"]
