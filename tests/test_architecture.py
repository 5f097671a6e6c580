"""The import direction: every import of the package (those inside functions too) runs
down the layers of ``inceptionism.layers`` or stays in its layer, no imports form a circle,
and the map in docs/architecture.md is the one generated from that declaration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from inceptionism.layers import LAYERS, layer_of, render_map

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "inceptionism"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(path): path for path in sorted(SRC.rglob("*.py"))}


def imports(module: str, *, top_level_only: bool = False) -> set[tuple[str, int]]:
    """The package's modules ``module`` imports, each with the line of the import."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module or ""
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                if target in MODULES:
                    found.add((target, node.lineno))
        elif isinstance(node, ast.Import):
            found |= {(alias.name, node.lineno) for alias in node.names if alias.name in MODULES}
    return {(target, line) for target, line in found if target != module}


def test_every_module_has_a_layer():
    missing = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            missing.append(module)
    assert not missing, f"add these to inceptionism/layers.py: {missing}"
    named = {name for layer in LAYERS for name in layer.modules}
    present = {m.split(".")[1] if "." in m else "__init__" for m in MODULES}
    assert named == present, f"layers.py names modules that do not exist: {named - present}"


def test_no_import_runs_up_the_layers():
    upward = [f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} ({LAYERS[layer_of(target)].name}, above "
              f"{LAYERS[layer_of(module)].name})"
              for module in MODULES for target, line in sorted(imports(module)) if layer_of(target) < layer_of(module)]
    assert not upward, "\n".join(upward)


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "with-function-level"])
def test_no_import_circles(top_level_only):
    edges = {module: {t for t, _ in imports(module, top_level_only=top_level_only)} for module in MODULES}
    assert _circles(edges) == []


def test_the_checks_find_what_they_look_for():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "inceptionism.api" in {t for t, _ in imports("inceptionism.unit_pictures")}
    assert "inceptionism.cluster.runner" in {t for t, _ in imports("inceptionism.runners")}  # inside a function
    assert "inceptionism.cluster.runner" not in {t for t, _ in imports("inceptionism.runners", top_level_only=True)}
    assert layer_of("inceptionism.cli.dream") < layer_of("inceptionism.api") < layer_of("inceptionism.errors")


def test_the_map_in_architecture_md_is_the_declared_one():
    text = (ROOT / "docs" / "architecture.md").read_text()
    assert "```\n" + render_map() + "\n```" in text, "run scripts/make_architecture_map.py"
