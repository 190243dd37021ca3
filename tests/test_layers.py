"""The four packages form layers that only point down: schemas <- builder <- emovit_model <- benchmarks;
inside ``builder`` and inside ``benchmarks`` the stage sub-packages point down the pipeline too, and no modules
import each other in a circle.

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


def _imported_names(module: str, path: Path) -> set[str]:
    """Dotted names ``module`` imports (``from a.b import c`` gives ``a.b.c``), relative imports resolved."""
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
                base = ".".join([*package, node.module] if node.module else package)
            elif node.module:
                base = node.module
            else:
                continue
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _imported(module: str, path: Path) -> set[str]:
    """Top-level package names ``module`` imports."""
    return {name.split(".")[0] for name in _imported_names(module, path)}


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


# ------------------------------------------------------------------------------------ module graph
#: ``builder``'s stage sub-packages in pipeline order; a stage imports only from the stages before it.
#: ``storage`` (cache locations) sits below them all, ``cli`` (the command table) above.
BUILDER_STAGES = ("storage", "sources", "captions", "generation", "dataset", "publish", "curation", "cli")


def module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a name imported from a package that is not a module of its
    own counts as an import of the package's ``__init__``)."""
    paths = {module: path for package in LAYERS for module, path in _modules(package)}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in paths.items():
        targets = {resolve(name) for name in _imported_names(module, path)}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, circles = {}, {}, set(), [], []
    for root, children in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(children)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_no_modules_import_each_other_in_a_circle():
    assert import_circles(module_graph()) == []


def test_the_circle_check_sees_a_circle_through_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_circles(graph) == [["a", "b", "c"]]


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "builder" and len(parts) > 1 else None


def test_builder_stages_import_only_from_earlier_stages():
    upward = []
    for module, targets in module_graph().items():
        stage = _stage(module)
        if stage is None:
            continue
        assert stage in BUILDER_STAGES, f"{module}: builder/{stage} is not a known stage; add it to BUILDER_STAGES"
        for target in sorted(targets):
            other = _stage(target)
            if other is not None and BUILDER_STAGES.index(other) > BUILDER_STAGES.index(stage):
                upward.append(f"{module} imports {target}")
    assert upward == []


def test_builder_top_level_holds_only_the_package_init_the_cli_and_storage():
    spec = importlib.util.find_spec("builder")
    top = sorted(path.name for location in spec.submodule_search_locations for path in Path(location).glob("*.py"))
    assert top == ["__init__.py", "cli.py", "storage.py"]


# ------------------------------------------------------------------------------------------ benchmarks' stages
#: ``benchmarks``' stage sub-packages in order; a stage imports only from the stages before it. The model
#: adapters sit at the bottom (the run config checks its model entries against them), the command table and the
#: demo on top.
BENCHMARK_STAGES = ("adapters", "spec", "data", "score", "run", "board", "interop", "cli", "demo", "__main__")


def _benchmark_stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "benchmarks" and len(parts) > 1 else None


def benchmark_upward_imports(graph: dict[str, set[str]]) -> list[str]:
    upward = []
    for module, targets in graph.items():
        stage = _benchmark_stage(module)
        if stage is None:
            continue
        assert stage in BENCHMARK_STAGES, \
            f"{module}: benchmarks/{stage} is not a known stage; add it to BENCHMARK_STAGES"
        for target in sorted(targets):
            other = _benchmark_stage(target)
            if other is not None and BENCHMARK_STAGES.index(other) > BENCHMARK_STAGES.index(stage):
                upward.append(f"{module} imports {target}")
    return upward


def test_benchmark_stages_import_only_from_earlier_stages():
    assert benchmark_upward_imports(module_graph()) == []


def test_the_stage_check_sees_an_import_of_a_later_stage():
    graph = {"benchmarks.score.figures": {"benchmarks.board.runs", "benchmarks.spec.task"},
             "benchmarks.board.runs": {"benchmarks.score.figures"}, "benchmarks.spec.task": set()}
    assert benchmark_upward_imports(graph) == ["benchmarks.score.figures imports benchmarks.board.runs"]


def test_benchmarks_top_level_holds_only_the_package_init_the_cli_the_demo_and_main():
    spec = importlib.util.find_spec("benchmarks")
    locations = [Path(location) for location in spec.submodule_search_locations]
    top = sorted(path.name for location in locations for path in location.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "demo.py"]
    packages = sorted(path.name for location in locations for path in location.iterdir()
                      if (path / "__init__.py").is_file())
    assert packages == sorted(BENCHMARK_STAGES[:7])
    for package in packages:  # each stage says what it holds, in a sentence on its first line
        docstring = ast.get_docstring(ast.parse((locations[0] / package / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and docstring.splitlines()[0].endswith("."), package


def test_the_answer_protocol_comes_from_schemas():
    """Figures, the board, imports, exports and the collators read answers and conversations by
    ``schemas.protocol``, never through the model package's scoring or the generation stage."""
    graph = module_graph()
    readers = [module for module in graph if module.startswith(("benchmarks.score", "benchmarks.board",
                                                                 "benchmarks.interop", "emovit_model.collators"))]
    forbidden = {"emovit_model.scoring", "builder.generation.turns"}
    assert sorted(f"{module} imports {target}" for module in readers for target in graph[module] & forbidden) == []
    for module in ("benchmarks.score.figures", "benchmarks.interop.importing", "emovit_model.collators.instructblip"):
        assert "schemas.protocol" in graph[module], module
