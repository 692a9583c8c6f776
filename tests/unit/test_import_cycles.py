"""No import cycles in `monitor/`, not even under `TYPE_CHECKING` or inside a function (issue 16).

The graph is read from the source with `ast`, so it sees every import a run might execute, not only those a
given command happens to reach: module level, `if TYPE_CHECKING:` blocks, function bodies, and
`importlib.import_module("monitor...")` with a literal name. An edge goes from a module to:

- the module it names (`import a.b.c`, `from a.b import c`, relative forms resolved against the importer);
- in `from pkg import name`, the submodule `pkg.name` when there is one (that is what runs);
- the packages above what it names (`import a.b.c` runs `a/__init__` and `a/b/__init__`), except the
  importer's own enclosing packages: Python initialises those before the importer runs, so naming a sibling
  (`monitor.store.sqlite` importing `monitor.store.lock`) does not re-enter `monitor/store/__init__.py`.
  Naming the package itself (`from monitor.store import StoreError` inside `monitor.store.sqlite`) does, and
  counts.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

import monitor

PACKAGE = Path(monitor.__file__).resolve().parent
ROOT = "monitor"


def module_name(path: Path, root: Path, top: str) -> str:
    """`monitor/store/__init__.py` -> `monitor.store`; `monitor/store/sql.py` -> `monitor.store.sql`."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((top, *parts))


def modules_under(root: Path, top: str) -> dict[str, Path]:
    """Every module of the package at `root` (named `top`), by dotted name."""
    return {module_name(path, root, top): path for path in sorted(root.rglob("*.py"))}


def _ancestors(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`]."""
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _resolve_from(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute module a `from ... import` names (relative levels counted from the importer's package)."""
    if level == 0:
        return module or ""
    package = importer if is_package else importer.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{module}" if module else package


def _named_by_import_module(node: ast.Call) -> str | None:
    """The literal module name of `importlib.import_module("x")` / `import_module("x")`, else None."""
    function = node.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if called != "import_module" or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def import_edges(importer: str, is_package: bool, tree: ast.Module, known: Iterable[str]) -> set[str]:
    """The modules of `known` that `importer` imports anywhere in `tree` (see the module docstring)."""
    known = set(known)
    enclosing = set(_ancestors(importer)) | ({importer} if is_package else set())
    named: set[str] = set()  # what an import statement names explicitly
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(importer, is_package, node.level, node.module)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            named.update(submodules)
            if len(submodules) < len(node.names):  # some name is an attribute of `base` itself
                named.add(base)
        elif isinstance(node, ast.Call):
            literal = _named_by_import_module(node)
            if literal is not None:
                named.add(literal)
    edges: set[str] = set()
    for name in named:
        if name in known:
            edges.add(name)
        edges.update(parent for parent in _ancestors(name) if parent in known and parent not in enclosing)
    edges.discard(importer)
    return edges


def import_graph(root: Path, top: str) -> dict[str, set[str]]:
    """module -> the modules it imports, for every module of the package at `root`."""
    modules = modules_under(root, top)
    return {
        name: import_edges(
            name, path.name == "__init__.py", ast.parse(path.read_text(encoding="utf-8")), modules
        )
        for name, path in modules.items()
    }


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (`[a, b, ..., a]`) through each strongly connected component of more than one module
    (Tarjan's algorithm, iterative), sorted, so a failure names every tangle at once."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                target = pending.pop(0)
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, sorted(graph.get(target, ()))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
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
                    components.append(sorted(component))
    return sorted(_cycle_within(graph, set(component)) for component in components)


def _cycle_within(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module, staying inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph.get(node, set()) & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def test_monitor_has_no_import_cycle() -> None:
    """Each cycle is named as `a -> b -> a`; the fix is to import the sibling module directly (not the
    package's `__init__`), or to move what both need into a module that imports neither."""
    cycles = [" -> ".join(cycle) for cycle in find_cycles(import_graph(PACKAGE, ROOT))]
    assert cycles == []


def test_the_graph_covers_the_whole_package() -> None:
    """The scan is not vacuous: it sees every module, and edges the product certainly has."""
    graph = import_graph(PACKAGE, ROOT)
    assert set(graph) == set(modules_under(PACKAGE, ROOT))
    assert "monitor.store.sqlite" in graph["monitor.store"]
    assert sum(len(targets) for targets in graph.values()) > len(graph)


def _write_package(root: Path, files: Mapping[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


#: (what the importer's file says, the edges expected from `pkg.sub.mod`)
EDGE_CASES = [
    ("import pkg.other", {"pkg.other"}),
    ("from pkg.other import thing", {"pkg.other"}),
    ("from pkg import other", {"pkg.other"}),
    ("from pkg import thing", {"pkg"}),
    ("from pkg import other, thing", {"pkg", "pkg.other"}),
    ("from . import sibling", {"pkg.sub.sibling"}),
    ("from .sibling import thing", {"pkg.sub.sibling"}),
    ("from . import thing", {"pkg.sub"}),
    ("from .. import other", {"pkg.other"}),
    ("from ..deep.leaf import thing", {"pkg.deep", "pkg.deep.leaf"}),
    ("import pkg.deep.leaf", {"pkg.deep", "pkg.deep.leaf"}),
    ("from pkg.sub.sibling import thing", {"pkg.sub.sibling"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.other import T", {"pkg.other"}),
    ("def later():\n    from pkg.deep import leaf", {"pkg.deep", "pkg.deep.leaf"}),
    ("import importlib\nimportlib.import_module('pkg.other')", {"pkg.other"}),
    ("import json\nfrom os import path", set()),
]


@pytest.mark.parametrize(("source", "expected"), EDGE_CASES)
def test_an_import_is_an_edge_to_what_it_runs(tmp_path: Path, source: str, expected: set[str]) -> None:
    root = tmp_path / "pkg"
    _write_package(
        root,
        {
            "__init__.py": "",
            "other.py": "",
            "sub/__init__.py": "",
            "sub/sibling.py": "",
            "sub/mod.py": source + "\n",
            "deep/__init__.py": "",
            "deep/leaf.py": "",
        },
    )
    assert import_graph(root, "pkg")["pkg.sub.mod"] == expected


def test_a_package_imported_by_its_own_submodule_is_a_cycle(tmp_path: Path) -> None:
    """The shape issue 16 found in the store: `__init__` imports a backend that imports `__init__` back."""
    root = tmp_path / "pkg"
    _write_package(
        root,
        {
            "__init__.py": "from pkg.backend import Backend\nfrom pkg.errors import Error\n",
            "errors.py": "class Error(Exception): ...\n",
            "backend.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import Error\n",
        },
    )
    assert find_cycles(import_graph(root, "pkg")) == [["pkg", "pkg.backend", "pkg"]]


def test_a_submodule_importing_its_siblings_directly_is_no_cycle(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    _write_package(
        root,
        {
            "__init__.py": "from pkg.backend import Backend\n",
            "errors.py": "class Error(Exception): ...\n",
            "backend.py": "from pkg.errors import Error\nfrom . import errors\n",
        },
    )
    assert find_cycles(import_graph(root, "pkg")) == []


def test_every_tangle_is_named(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    _write_package(
        root,
        {
            "__init__.py": "",
            "a.py": "import pkg.b\n",
            "b.py": "def f():\n    import pkg.c\n",
            "c.py": "from pkg import a\n",
            "x.py": "from pkg.y import z\n",
            "y.py": "import pkg.x\n",
        },
    )
    assert find_cycles(import_graph(root, "pkg")) == [
        ["pkg.a", "pkg.b", "pkg.c", "pkg.a"],
        ["pkg.x", "pkg.y", "pkg.x"],
    ]
