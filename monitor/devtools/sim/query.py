"""Query parameters of the list endpoints: parsing, validation, filtering and paging (pure functions).

Validation follows the API document: `offset` and `limit` are integers (`limit` 0..50 for tasks, 0..100 for
records), both mandatory on the task list; filter values must be one of the documented enums. A failure
raises `ParamError`, which the server answers as 400 `WKS.0001`.

Filter values are decoded as a web form would (`+` is a space), because clients that do not sign (token auth
through httpx `params=`) encode spaces that way; signature checking decodes the raw string separately.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, unquote_plus

from monitor.devtools.sim.entities import SimTask
from monitor.workspace.vocabulary import LAST_STATUSES, LIFE_CYCLE_TYPES, SCHEDULED_TYPES
from monitor.workspace.vocabulary import TASK_TYPES as KNOWN_TASK_TYPES

__all__ = [
    "Page",
    "ParamError",
    "QueryPairs",
    "TaskFilters",
    "parse_page",
    "parse_query",
    "parse_task_filters",
    "select_tasks",
    "slice_page",
]

QueryPairs = list[tuple[str, str]]
T = TypeVar("T")

_INTEGER = re.compile(r"^-?[0-9]+$")
_ENUMS: dict[str, Sequence[str]] = {
    "task_type": KNOWN_TASK_TYPES,
    "scheduled_type": SCHEDULED_TYPES,
    "life_cycle_type": LIFE_CYCLE_TYPES,
    "last_status": LAST_STATUSES,
}


class ParamError(ValueError):
    """A query parameter is missing or invalid; the message names it."""


def parse_query(raw: str, *, plus_is_space: bool = True) -> QueryPairs:
    """(key, value) pairs in order, blank values kept (`a=&b` gives ("a", ""), ("b", ""))."""
    decode = unquote_plus if plus_is_space else unquote
    pairs: QueryPairs = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((decode(key), decode(value)))
    return pairs


def _first(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in pairs if k == name), None)


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def _integer(pairs: QueryPairs, name: str, *, required: bool, default: int) -> int:
    text = _first(pairs, name)
    if text is None:
        if required:
            raise ParamError(f"{name} is required")
        return default
    if not _INTEGER.match(text):
        raise ParamError(f"{name} must be an integer, got {text!r}")
    return int(text)


def parse_page(pairs: QueryPairs, *, max_limit: int, required: bool, default_limit: int = 10) -> Page:
    offset = _integer(pairs, "offset", required=required, default=0)
    limit = _integer(pairs, "limit", required=required, default=default_limit)
    if offset < 0:
        raise ParamError(f"offset must be >= 0, got {offset}")
    if not 0 <= limit <= max_limit:
        raise ParamError(f"limit must be between 0 and {max_limit}, got {limit}")
    return Page(offset, limit)


@dataclass(frozen=True)
class TaskFilters:
    task_name: str | None = None
    task_type: str | None = None
    scheduled_type: str | None = None
    life_cycle_type: str | None = None
    last_status: str | None = None

    def matches(self, task: SimTask) -> bool:
        # Triggered tasks only show up when asked for by name, as the API document says.
        if task.triggered and self.scheduled_type != "LIFE_CYCLE":
            return False
        if self.task_name and self.task_name not in task.task_name:
            return False
        return all(
            wanted is None or getattr(task, name) == wanted
            for name, wanted in (
                ("task_type", self.task_type),
                ("scheduled_type", self.scheduled_type),
                ("life_cycle_type", self.life_cycle_type),
                ("last_status", self.last_status),
            )
        )


def parse_task_filters(pairs: QueryPairs) -> TaskFilters:
    values: dict[str, str | None] = {}
    for name in ("task_name", *_ENUMS):
        value = _first(pairs, name)
        # An empty value means "no filter", as form-built URLs send every field.
        values[name] = value if value else None
        allowed = _ENUMS.get(name)
        if value and allowed is not None and value not in allowed:
            raise ParamError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return TaskFilters(**values)


def select_tasks(tasks: Iterable[SimTask], filters: TaskFilters) -> list[SimTask]:
    return [t for t in tasks if filters.matches(t)]


def slice_page(items: Sequence[T], page: Page) -> list[T]:
    return list(items[page.offset : page.offset + page.limit])
