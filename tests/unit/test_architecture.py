"""The structure the design promises: no import circles, small modules, an independent emulator.

import-linter (`make lint`) checks the layering of the layer; these check what it cannot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest

from tests.support import ROOT

LAYER = ROOT / "layers" / "talon_relay" / "talon_relay"
MAX_MODULE_LINES = 300


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import circles."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(package):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("package", ["talon_relay", "local"])
def test_no_package_has_an_import_circle(package: str) -> None:
    # Given the import graph of the layer and of the local stack (imports inside functions included)
    graph = grimp.build_graph(package, cache_dir=None)
    # Then no module reaches itself through its imports
    assert _cycles(graph, package) == []


def test_the_cycle_finder_finds_a_circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a package whose two modules import each other, then the check above would see it
    pkg = tmp_path / "circular_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circular_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from circular_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("circular_pkg", cache_dir=None), "circular_pkg") == [
        ["circular_pkg.a", "circular_pkg.b"]
    ]


MAX_MODULES_PER_FOLDER = 12


def test_no_layer_folder_holds_more_than_12_modules() -> None:
    # Given every folder of the layer; Then none holds more than 12 modules side by side (a folder that
    # needs more is two roles: split it)
    counts = {
        folder.relative_to(LAYER).as_posix() or ".": len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        for folder in [LAYER, *(p for p in LAYER.rglob("*") if p.is_dir() and p.name != "__pycache__")]
    }
    assert {name: n for name, n in counts.items() if n > MAX_MODULES_PER_FOLDER} == {}


def test_no_layer_module_is_named_like_a_well_known_module() -> None:
    # Given the names of the layer's modules; Then none shadows a standard-library module or a well-known
    # package a reader would take it for
    well_known = set(sys.stdlib_module_names) | {"requests", "secrets", "backoff", "schedule", "limits", "boto3"}
    names = {p.stem for p in LAYER.rglob("*.py") if p.name != "__init__.py"}
    assert names & well_known == set()


def test_no_layer_module_is_over_300_lines() -> None:
    sizes = {path.relative_to(LAYER).as_posix(): len(path.read_text().splitlines()) for path in LAYER.rglob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def test_the_emulator_imports_nothing_of_the_relay() -> None:
    # Given the import graph of the local stack and the layer together
    graph = grimp.build_graph("local", "talon_relay", cache_dir=None)
    # Then no module of the emulator reaches the layer, directly or through another module: its
    # description of Talon.One is its own, so a wrong model in the layer cannot hide in both
    emulator = [m for m in graph.modules if m.startswith("local.emulator")]
    assert emulator
    reached = {
        (module, imported)
        for module in emulator
        for imported in graph.find_upstream_modules(module)
        if imported.startswith("talon_relay")
    }
    assert reached == set()
