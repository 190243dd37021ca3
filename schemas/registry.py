"""Registries keyed by name, in the project's one dialect: every entry names its object as
``"package.module:attribute"`` (the form of Python entry points) and is imported only when it is used.

Commands, adapters, importers, model families, generators and captioners are all kept this way, so adding one
is one line in its table and ``emovit --help`` imports none of them::

    ADAPTERS = Registry("adapter", {
        "emovit": Entry("benchmarks.adapters.emovit:EMOVIT", "InstructBLIP with a trained EmoVIT adapter"),
    })
    ADAPTERS.load("emovit")        # imports benchmarks.adapters.emovit, returns its EMOVIT
    ADAPTERS.load("nope")          # UsageError: unknown adapter 'nope'; choose one of: emovit
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.errors import UsageError


@dataclass(frozen=True)
class Entry:
    """One registered object: where it lives (``"package.module:attribute"``) and a one-line summary."""

    target: str
    summary: str = ""

    def __post_init__(self) -> None:
        module, sep, attribute = self.target.partition(":")
        if not (module and sep and attribute):
            raise ValueError(f"registry target {self.target!r} is not 'package.module:attribute'")

    def load(self) -> Any:
        """Import the module and return the attribute (dotted attributes are followed)."""
        module, _, attribute = self.target.partition(":")
        value: Any = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        return value


class Registry(Mapping[str, Entry]):
    """Name -> :class:`Entry`, in the order given; ``kind`` names what it holds in error messages."""

    def __init__(self, kind: str, entries: Mapping[str, Entry]) -> None:
        self.kind = kind
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry registered as ``name``; an unknown name is one :class:`UsageError` line listing the known."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UsageError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._entries)}") from None

    def load(self, name: str) -> Any:
        """Import and return the object registered as ``name``."""
        return self.entry(name).load()


__all__ = ["Entry", "Registry"]
