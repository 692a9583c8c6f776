"""Reading YAML files so that every later complaint can point at `file:line`.

`parse_yaml(text, filename)` returns the plain data and a `Locator` that maps a path into that data
(("workspace", "concurrency") or ("rules", 3, "match")) to the line it came from. YAML syntax errors become a
`YamlError` with the line PyYAML reports, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["Locator", "YamlError", "parse_yaml"]

PathPart = str | int


class YamlError(ValueError):
    """A file that is not valid YAML; `str()` is `file:line: problem`."""

    def __init__(self, filename: str, line: int, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {problem}")
        self.filename = filename
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Locator:
    """Finds the line of a value (or of its key) inside the parsed document."""

    filename: str
    root: yaml.Node | None

    def line_of(self, path: Sequence[PathPart]) -> int:
        """1-based line of the deepest node along `path` that exists (1 for an empty document)."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in path:
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            # Point at the key for mappings: "concurrency: x" is where a person looks.
            line = (key_node or node).start_mark.line + 1
        return line

    def where(self, path: Sequence[PathPart]) -> str:
        return f"{self.filename}:{self.line_of(path)}"


def _child(node: yaml.Node, part: PathPart) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                return key_node, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def parse_yaml(text: str, filename: str) -> tuple[Any, Locator]:
    """The document's data and a locator into it. Raises `YamlError` for anything PyYAML rejects."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlError(filename, line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(filename, 1, f"invalid YAML: {exc}") from None
    return data, Locator(filename, root)
