"""Validation of the task fields the control API may set (PATCH and create), before they touch the state.

Each field has one checker that returns the value to store or raises ValueError naming the field; `desktops`
takes a list of desktop names. Enum fields accept only the API's documented values, so a simulated task can
never hold something the real API would not send (use the `wrong_types` fault for that).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from monitor.devtools.sim.data import new_uuid
from monitor.devtools.sim.entities import SimDesktop
from monitor.workspace.vocabulary import LAST_STATUSES, LIFE_CYCLE_TYPES, SCHEDULED_TYPES
from monitor.workspace.vocabulary import TASK_TYPES as KNOWN_TASK_TYPES

__all__ = ["SCHEDULE_FIELDS", "validate_fields"]

Checker = Callable[[str, Any], Any]


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _nonempty_text(name: str, value: Any) -> str:
    if not _text(name, value):
        raise ValueError(f"{name} must not be empty")
    return str(value)


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _int(name: str, value: Any) -> int:
    checked = _optional_int(name, value)
    if checked is None:
        raise ValueError(f"{name} must be an integer")
    return checked


def _enum(values: Sequence[str], *, optional: bool) -> Checker:
    def check(name: str, value: Any) -> str | None:
        if value is None and optional:
            return None
        if value not in values:
            raise ValueError(f"{name} must be one of {', '.join(values)}")
        return str(value)

    return check


_CHECKERS: dict[str, Checker] = {
    "id": _nonempty_text,
    "task_name": _nonempty_text,
    "task_type": _enum(KNOWN_TASK_TYPES, optional=False),
    "scheduled_type": _enum(SCHEDULED_TYPES, optional=False),
    "life_cycle_type": _enum(LIFE_CYCLE_TYPES, optional=True),
    "last_status": _enum(LAST_STATUSES, optional=True),
    "next_execution_time": _optional_text,
    "expire_time": _optional_text,
    "enable": _bool,
    "description": _text,
    "priority": _int,
    "time_zone": _nonempty_text,
    "wait_time": _optional_int,
    "force_execute": _bool,
    "day_interval": _optional_int,
    "week_list": _optional_text,
    "month_list": _optional_text,
    "date_list": _optional_text,
    "scheduled_date": _optional_text,
    "scheduled_time": _optional_text,
    "extra_params": _optional_text,
    "gray_count": _optional_int,
    "gray_fail_threshold": _optional_int,
}
# Changing one of these moves next_execution_time, unless the same edit sets it explicitly.
SCHEDULE_FIELDS = frozenset(
    {
        "scheduled_type",
        "time_zone",
        "day_interval",
        "week_list",
        "month_list",
        "date_list",
        "scheduled_date",
        "scheduled_time",
    }
)


def _desktops(value: Any, rng: random.Random) -> list[SimDesktop]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("desktops must be a list of desktop names")
    return [SimDesktop(id=new_uuid(rng), name=name) for name in value]


def validate_fields(fields: Mapping[str, Any], *, rng: random.Random, allow_id: bool) -> dict[str, Any]:
    """The checked values to set, ready for `setattr`; ValueError on the first bad or unknown field."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "desktops":
            checked[name] = _desktops(value, rng)
            continue
        checker = _CHECKERS.get(name)
        if checker is None or (name == "id" and not allow_id):
            raise ValueError(f"{name} cannot be set")
        checked[name] = checker(name, value)
    return checked
