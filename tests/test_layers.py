"""The four packages form layers that only point down: schemas <- builder <- emovit_model <- benchmarks.

Every module of the installed packages is parsed (imports inside functions included) and each import of a
sibling package is checked against the layer order. The ``emovit`` command names subcommand modules of any
layer as strings, which is not an import.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

LAYERS = ("schemas", "builder", "emovit_model", "benchmarks")


def _modules(package: str):
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
    for location in spec.submodule_search_locations:
        for path in sorted(Path(location).rglob("*.py")):
            parts = path.relative_to(location).with_suffix("").parts
            yield ".".join((package, *parts)).removesuffix(".__init__"), path


def _imported(module: str, path: Path) -> set[str]:
    """Top-level package names ``module`` imports, relative imports resolved."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                names.add(".".join([*package, node.module] if node.module else package))
            elif node.module:
                names.add(node.module)
    return {name.split(".")[0] for name in names}


def upward_imports() -> list[str]:
    found = []
    for rank, package in enumerate(LAYERS):
        for module, path in _modules(package):
            for target in sorted(_imported(module, path) & set(LAYERS)):
                if LAYERS.index(target) > rank:
                    found.append(f"{module} ({path.name}) imports {target}")
    return found


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The walker must catch an import hidden inside a function (guards the test above)."""
    package = tmp_path / "schemas"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sneaky.py").write_text("def f():\n    from builder import source\n")
    spec = importlib.util.spec_from_file_location("schemas", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec if name == "schemas" else _real(name))
    assert upward_imports() == ["schemas.sneaky (sneaky.py) imports builder"]


_real = importlib.util.find_spec


@pytest.mark.parametrize("package", LAYERS)
def test_every_layer_is_found(package):
    assert list(_modules(package))
