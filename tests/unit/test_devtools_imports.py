"""The product does not depend on its developer tools: outside `monitor/devtools/`, only the CLI's `simulate`
and `demo` commands import them, inside the command (so `run`, `check`, the daemon never load them)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import monitor

PACKAGE = Path(monitor.__file__).resolve().parent
DEVTOOLS = PACKAGE / "devtools"
#: Where a lazy import of the developer tools is allowed: the two commands that run them.
LAZY_ENTRIES = {("cli.py", "_simulate"), ("cli.py", "main")}


def _devtools_imports(tree: ast.Module) -> list[tuple[int, str | None]]:
    """(line, enclosing function or None at module level) of every import that names monitor.devtools."""
    found: list[tuple[int, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module] + [f"{child.module}.{alias.name}" for alias in child.names]
            if any(name == "monitor.devtools" or name.startswith("monitor.devtools.") for name in names):
                found.append((child.lineno, function))
            visit(child, function)

    visit(tree, None)
    return found


def test_only_the_cli_commands_import_the_devtools_and_only_lazily() -> None:
    """A module-level import (`TYPE_CHECKING` blocks too) or one anywhere but the CLI's commands fails."""
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if DEVTOOLS in path.parents:
            continue
        where = path.relative_to(PACKAGE).as_posix()
        for line, function in _devtools_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if (where, function) not in LAZY_ENTRIES:
                offending.append(f"monitor/{where}:{line} (in {function or 'the module'})")
    assert offending == []


def test_the_scan_sees_imports_at_every_depth() -> None:
    """The scan itself: module level, under `if TYPE_CHECKING`, and inside a function are all found."""
    source = (
        "from monitor.devtools.sim import SimOptions\n"
        "if TYPE_CHECKING:\n    import monitor.devtools.slackstub\n"
        "def f():\n    from monitor.devtools import demo\n"
        "from monitor.devtool import x\n"
    )
    assert _devtools_imports(ast.parse(source)) == [(1, None), (3, None), (5, "f")]


def test_importing_every_product_module_loads_no_devtools() -> None:
    """What the scan cannot see (an import through a helper, importlib): import every module outside
    devtools in a fresh interpreter and look at what got loaded."""
    modules = sorted(
        "monitor." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if DEVTOOLS not in path.parents
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('monitor.devtools')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
