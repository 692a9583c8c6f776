"""The rules package's modules import each other in one direction (patterns, runbook, matcher, model, index,
schema, load: each only those before it), and silences.py needs only the matcher, which needs no silence: no
cycle, not even under TYPE_CHECKING. Only `index` (a rule set holds the file's silences) and `load` import
silences."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import monitor

PACKAGE = Path(monitor.__file__).resolve().parent
ORDER = ["patterns", "runbook", "matcher", "model", "index", "schema", "load"]


def monitor_imports(path: Path) -> set[str]:
    """Every `monitor.*` module `path` imports, anywhere in it (TYPE_CHECKING blocks and functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("monitor"))
        elif (
            isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("monitor")
        ):
            found.add(node.module or "")
    return found


@pytest.mark.parametrize("module", ORDER)
def test_a_rules_module_imports_only_those_before_it(module: str) -> None:
    imported = {
        name
        for name in monitor_imports(PACKAGE / "rules" / f"{module}.py")
        if name.startswith("monitor.rules")
    }
    allowed = {f"monitor.rules.{earlier}" for earlier in ORDER[: ORDER.index(module)]}
    assert imported <= allowed


def test_silences_need_only_the_matcher() -> None:
    imported = monitor_imports(PACKAGE / "silences.py")
    assert {name for name in imported if name.startswith("monitor.rules")} == {"monitor.rules.matcher"}
    users = {
        module
        for module in ORDER
        if "monitor.silences" in monitor_imports(PACKAGE / "rules" / f"{module}.py")
    }
    assert users == {"index", "load"}


def test_the_package_itself_reexports_nothing() -> None:
    assert monitor_imports(PACKAGE / "rules" / "__init__.py") == set()
