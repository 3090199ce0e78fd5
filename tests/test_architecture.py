"""The architecture as a checked contract: no import cycle anywhere in the project's packages.

grimp (the graph library behind import-linter) sees every import, function-local ones too, so
a cycle cannot hide behind ``def f(): from .x import y``. A cycle shows up here as a strongly
connected component of more than one module, listed with the imports that close it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

PACKAGES = (
    "accounts",
    "audit",
    "certificates",
    "demo",
    "eonay",
    "esign",
    "help",
    "nesportal",
    "pinvault",
    "protection",
    "receipts",
)
ROOT = Path(__file__).resolve().parent.parent


def strongly_connected_components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
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
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def import_graph() -> tuple[grimp.ImportGraph, dict[str, set[str]]]:
    graph = grimp.build_graph(*PACKAGES)
    edges = {
        module: {
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if imported in graph.modules
        }
        for module in graph.modules
    }
    return graph, edges


def test_the_strongly_connected_components_helper_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    found = sorted(sorted(c) for c in strongly_connected_components(graph))
    assert found == [["a", "b", "c"], ["d"], ["e"]]


def test_no_module_of_the_project_takes_part_in_an_import_cycle() -> None:
    graph, edges = import_graph()
    assert "accounts.lockout" in edges, "the graph covers the project's packages"

    cycles = [c for c in strongly_connected_components(edges) if len(c) > 1]

    closing = [
        f"{importer} -> {imported} (line {detail['line_number']})"
        for component in cycles
        for importer in sorted(component)
        for imported in sorted(edges[importer] & component)
        for detail in graph.get_import_details(importer=importer, imported=imported)
    ]
    assert not cycles, "import cycles:\n" + "\n".join(closing)


def test_the_import_linter_contracts_are_kept() -> None:
    """The contracts of pyproject.toml [tool.importlinter]: layers, only URL modules import
    views, audit imports no feature app, no cycles between sibling modules."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_portal_and_the_card_service_never_import_each_other() -> None:
    """The Akıllı Kart Servisi ships alone (cardservice/, its own pyproject): it imports no
    Django and nothing of the portal, and the portal talks to it only over HTTP (the demo
    command runs it as a process), never by importing it."""
    graph = grimp.build_graph(*PACKAGES, "nes_kart_servisi", include_external_packages=True)
    portal = [m for m in graph.modules if m.split(".")[0] in PACKAGES]
    service = [m for m in graph.modules if m.split(".")[0] == "nes_kart_servisi"]
    assert service, "the card service package is not installed (make .venv/.installed-dev)"
    wrong = sorted(
        f"{module} → {imported}"
        for module in portal
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] == "nes_kart_servisi"
    ) + sorted(
        f"{module} → {imported}"
        for module in service
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] in {*PACKAGES, "django"}
    )
    assert not wrong, "\n".join(wrong)
