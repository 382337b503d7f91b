"""The import graph of ``src/kycflow``: no cycles (TYPE_CHECKING and function-local imports
count), no layer importing a higher one, and a test kit that shares no code path with the
client it tests (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Longest prefix wins. A module may import its own rank or lower ones.
RANKS = {
    "kycflow._constants": 0,
    "kycflow._version": 0,
    "kycflow.errors": 0,
    "kycflow.models": 0,
    "kycflow.documents": 0,
    "kycflow._logging": 0,
    "kycflow._callbacks": 0,
    "kycflow._schema": 0,
    "kycflow._telemetry": 0,
    "kycflow._http": 1,
    "kycflow.transport": 1,
    "kycflow.retry": 1,
    "kycflow.flow_control": 1,
    "kycflow.coordination": 1,
    "kycflow.auth": 2,
    "kycflow.client": 3,
    "kycflow.resources": 3,
    "kycflow.wizard": 4,
    "kycflow.runner": 4,
    "kycflow.providers": 4,
    "kycflow.checkpoint": 4,
    "kycflow.leases": 4,
    "kycflow.events": 4,
    "kycflow.watch": 4,
    "kycflow.batch": 5,
    "kycflow.integrations": 5,
    "kycflow.cli": 5,
    "kycflow.testing": 5,
    "kycflow": 6,
}
# The sandbox and its kit use the public models and errors; the canned-reply transport also
# the public sending seam it implements.
TESTKIT_MAY_IMPORT = ("kycflow.models", "kycflow.errors", "kycflow._version", "kycflow.testing")
TESTKIT_SEAM = {"kycflow.testing.mock_transport": ("kycflow.transport",)}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                imported = ".".join([*base, *([node.module] if node.module else [])])
            else:
                imported = node.module or ""
            for alias in node.names:
                submodule = f"{imported}.{alias.name}"
                targets.add(submodule if submodule in MODULES else imported)
    return {target for target in targets if target in MODULES and target != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _rank(module: str) -> int:
    prefix = max((p for p in RANKS if module == p or module.startswith(p + ".")), key=len)
    return RANKS[prefix]


def _cycle_from(start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen = set()
    while stack:
        module, path = stack.pop()
        for target in GRAPH[module]:
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_the_graph_is_read() -> None:
    assert "kycflow._http.transport" in GRAPH["kycflow.client"] or any(
        target.startswith("kycflow._http") for target in GRAPH["kycflow.client"]
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_cycle(module: str) -> None:
    assert _cycle_from(module) is None


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if not m.startswith("kycflow.testing"))
)
def test_no_layer_imports_a_higher_one(module: str) -> None:
    higher = {target for target in GRAPH[module] if _rank(target) > _rank(module)}
    assert not higher, f"{module} (layer {_rank(module)}) imports {sorted(higher)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("kycflow.testing")))
def test_the_test_kit_shares_no_code_path_with_the_client(module: str) -> None:
    allowed = TESTKIT_MAY_IMPORT + TESTKIT_SEAM.get(module, ())
    foreign = {target for target in GRAPH[module] if not target.startswith(allowed)}
    assert not foreign, f"{module} imports {sorted(foreign)}"
