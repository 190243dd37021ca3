"""The one registry dialect: ``"package.module:attribute"`` entries imported on first use."""

from __future__ import annotations

import sys

import pytest

from schemas.errors import UsageError
from schemas.registry import Entry, Registry


def test_an_entry_is_imported_only_when_loaded():
    sys.modules.pop("json.tool", None)
    registry = Registry("tool", {"json": Entry("json.tool:main", "pretty-print JSON"), "path": Entry("os:path.join")})
    assert "json.tool" not in sys.modules
    assert list(registry) == ["json", "path"] and registry["json"].summary == "pretty-print JSON"
    import json.tool
    import os

    assert registry.load("json") is json.tool.main
    assert registry.load("path") is os.path.join


def test_an_unknown_name_is_one_line_listing_the_known_ones():
    registry = Registry("adapter", {"a": Entry("os:sep"), "b": Entry("os:sep")})
    with pytest.raises(UsageError, match=r"^unknown adapter 'c'; choose one of: a, b$"):
        registry.load("c")
    with pytest.raises(UsageError, match="unknown adapter"):
        registry.entry(["not", "hashable"])


@pytest.mark.parametrize("target", ["os", "os:", ":sep", ""])
def test_a_target_without_module_and_attribute_is_refused(target):
    with pytest.raises(ValueError, match="package.module:attribute"):
        Entry(target)
