"""Reading YAML files so that every later complaint can point at `file:line`.

`parse_yaml(text, filename)` returns the plain data and a `Locator` that maps a path into that data
(("workspace", "concurrency") or ("rules", 3, "match")) to the line it came from. YAML syntax errors become a
`YamlError` with the line PyYAML reports, never a traceback.

Hostile documents are refused before anything walks them: aliases that would expand the document by more
than `ALIAS_EXPANSION_LIMIT` nodes (a "billion laughs" of 1 KB), an alias inside the node it names (a cycle),
nesting deeper than the parser's recursion allows. `duplicate_keys(locator)` lists the keys written twice in
one mapping (PyYAML keeps the last silently), each mapping looked at once however many aliases name it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = ["ALIAS_EXPANSION_LIMIT", "DuplicateKey", "Locator", "YamlError", "duplicate_keys", "parse_yaml"]

PathPart = str | int

#: How many nodes aliases may add to a document (each alias counts the nodes it stands for). Generous for
#: shared `match:` blocks; a billion-laughs document needs millions.
ALIAS_EXPANSION_LIMIT = 100_000


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

    def scalar_text(self, path: Sequence[PathPart]) -> str | None:
        """The text a scalar at `path` was written as (None: no such scalar). YAML 1.1 reads `22:00` and
        `1:5` as base-60 numbers (1320, 65); a key whose values are clock times or ranges reads them here."""
        node = self.root
        for part in path:
            child = _child(node, part) if node is not None else None
            if child is None:
                return None
            node = child[1]
        return node.value if isinstance(node, yaml.ScalarNode) else None

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
    """The document's data and a locator into it. Raises `YamlError` for anything PyYAML rejects, and for
    documents built to exhaust whoever reads them (see the module's docstring)."""
    try:
        loader = yaml.SafeLoader(text)  # reads the whole text: refuses control characters here
    except yaml.YAMLError as exc:
        raise YamlError(filename, 1, f"invalid YAML: {exc}") from None
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_aliases(root, filename)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "not valid YAML"
        raise YamlError(filename, line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlError(filename, 1, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(filename, loader.get_mark().line + 1, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return data, Locator(filename, root)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node, filename: str) -> None:
    """Refuses a document whose aliases expand it by more than ALIAS_EXPANSION_LIMIT nodes, or that contains
    itself. One walk over the distinct nodes, each node's expanded size counted once (post-order)."""
    size: dict[int, int] = {}
    distinct = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlError(filename, node.start_mark.line + 1, "an alias refers to a node that contains it")
        distinct += 1
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                line = node.start_mark.line + 1
                raise YamlError(filename, line, "an alias refers to a node that contains it")
            if id(child) not in size:
                stack.append((child, False))
    if size[id(root)] - distinct > ALIAS_EXPANSION_LIMIT:
        raise YamlError(
            filename,
            1,
            f"aliases expand this document by more than {ALIAS_EXPANSION_LIMIT:,} nodes: "
            "write the values out, or share less",
        )


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    line: int
    first_line: int

    def __str__(self) -> str:
        return f"duplicate key {self.key!r} (first on line {self.first_line})"


def duplicate_keys(locator: Locator) -> list[DuplicateKey]:
    """Keys written twice in one mapping, in document order; a mapping reached by several aliases once."""
    found: list[DuplicateKey] = []
    visited: set[int] = set()
    pending = [locator.root] if locator.root is not None else []
    while pending:
        node = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        found.append(DuplicateKey(key.value, line, seen[key.value]))
                    else:
                        seen[key.value] = line
        pending.extend(reversed(_children(node)))
    found.sort(key=lambda duplicate: duplicate.line)
    return found
