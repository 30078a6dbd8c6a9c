"""The package's layering: every module imports, and no import circle exists between the
package's modules (counting imports inside functions too: a lazy import hides a circle
from Python but not from a reader)."""
import ast
import importlib
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "orchestration" / "priot"


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The package modules an ImportFrom node names (a name that is a module counts as
    that module, else the package it is taken from)."""
    if node.level:
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            found.append(sub)
        elif target in MODULES:
            found.append(target)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                edges.update(_resolve(name, path.name == "__init__.py", node))
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in MODULES)
        edges.discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}   # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# the package's layers, top first; a module may import its own layer and those below
LAYERS = (
    ("priot.studies",),
    ("priot.stream",),                  # samples over UART0 (uses one run's preparation)
    ("priot.pipeline", "priot.export"),   # siblings: one run; a user's model -> blob
    ("priot.settings",),
    ("priot.data", "priot.device"),     # siblings: neither imports the other
    ("priot.core",),
    ("priot.results",),
    ("priot.paths", "priot.errors", "priot.interrupt", "priot.progress"),
)


def _layer(module: str) -> tuple[int, str] | None:
    for depth, layer in enumerate(LAYERS):
        for prefix in layer:
            if module == prefix or module.startswith(prefix + "."):
                return depth, prefix
    return None


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "priot" and _layer(m) is None] == []


def test_every_import_points_down():
    up = []
    for module, targets in import_graph().items():
        if module == "priot":
            continue
        depth, prefix = _layer(module)
        for target in targets:
            t_depth, t_prefix = _layer(target)
            if t_depth < depth or (t_depth == depth and t_prefix != prefix):
                up.append(f"{module} -> {target}")
    assert up == [], "imports that point up or sideways: " + ", ".join(sorted(up))
