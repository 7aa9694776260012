"""The house rules for imports, checked on the source: layers only point down, no cycles.

Every import counts, including those inside functions and under TYPE_CHECKING: a lazy import
that runs back up is still a dependency that runs back up.

    core  <-  index  <-  assistant  <-  api, eval  <-  newsdesk (the CLI)
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

LAYERS = {"core": 0, "index": 1, "assistant": 2, "api": 3, "eval": 3, "newsdesk": 4}
"""A package may import its own modules and any package of a lower layer; api and eval sit
side by side and may not import each other."""


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Our modules that `name` imports (absolute and relative, at any depth of the file)."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import module` imports the module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_graph_is_read() -> None:
    """Guards the checks below against passing on an empty graph."""
    edges = graph()
    assert "assistant.runtime" in edges["api.app"]
    assert "core.settings" in edges["index.store"]


def test_imports_only_point_down() -> None:
    upward = []
    for importer, targets in graph().items():
        for target in targets:
            a, b = importer.split(".")[0], target.split(".")[0]
            if a != b and LAYERS[b] >= LAYERS[a]:
                upward.append(f"{importer} -> {target}")
    assert not upward, "imports that run up or sideways:\n" + "\n".join(sorted(upward))


def test_no_two_modules_import_each_other() -> None:
    edges = graph()
    cycles: list[str] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
