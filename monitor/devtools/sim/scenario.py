"""Scripted scenarios: a YAML list of steps, each a list of control actions, checked when loaded.

    steps:                                  # or the list of steps at the top level
      - - {action: execute, task: prod-reboot-nightly-017, status: FAIL, failed_desktops: [ws-prod-0042]}
        - {action: patch, task: 5b0c...-uuid, set: {enable: false}}
        - {action: miss, task: prod-reboot-nightly-018, late_by_seconds: 3600}
      - - {action: execute, task: prod-reboot-nightly-017, status: SUCCESS}
        - {action: create, set: {id: my-task, task_name: "new task", last_status: FAIL}}
        - {action: delete, task: my-task}
        - {action: fault, fault: {endpoint: list, kind: status, status: 503, count: 2}}
        - {action: clear_faults}
        - {action: expire_tokens}

`task` is a task id or an exact task name, resolved when the step runs (so a step can use a task an earlier
step created). One step runs per `POST /_sim/scenario/advance`, or every `--step-seconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.devtools.sim.faults import parse_fault

__all__ = ["ACTIONS", "Action", "Scenario", "load_scenario", "parse_scenario"]

ACTIONS = ("execute", "miss", "patch", "create", "delete", "fault", "clear_faults", "expire_tokens")
_NEEDS_TASK = frozenset({"execute", "miss", "patch", "delete"})


@dataclass(frozen=True)
class Action:
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return str(self.args["task"])


def _action(raw: Any, where: str) -> Action:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: an action must be a mapping with an 'action' key")
    kind = raw.get("action")
    if kind not in ACTIONS:
        raise ValueError(f"{where}: action must be one of {', '.join(ACTIONS)}")
    if kind in _NEEDS_TASK and not isinstance(raw.get("task"), str):
        raise ValueError(f"{where}: {kind} needs 'task' (a task id or exact name)")
    if kind == "execute" and raw.get("status") not in ("SUCCESS", "FAIL", "SKIP"):
        raise ValueError(f"{where}: execute needs status SUCCESS, FAIL or SKIP")
    late_by = raw.get("late_by_seconds", 3600)
    if kind == "miss" and (isinstance(late_by, bool) or not isinstance(late_by, int) or late_by <= 0):
        raise ValueError(f"{where}: miss takes late_by_seconds, a positive whole number")
    if kind in ("patch", "create") and not isinstance(raw.get("set", {}), Mapping):
        raise ValueError(f"{where}: 'set' must be a mapping of task fields")
    if kind == "fault":
        try:
            parse_fault(raw.get("fault") or {})
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return Action(kind, {k: v for k, v in raw.items() if k != "action"})


def parse_scenario(document: Any) -> list[list[Action]]:
    """Steps from a parsed YAML document; ValueError names the step and action that is wrong."""
    steps = document.get("steps") if isinstance(document, Mapping) else document
    if not isinstance(steps, list):
        raise ValueError("a scenario is a list of steps (or a mapping with 'steps')")
    parsed: list[list[Action]] = []
    for i, step in enumerate(steps, start=1):
        actions = step.get("actions") if isinstance(step, Mapping) else step
        if not isinstance(actions, list):
            raise ValueError(f"step {i}: a step is a list of actions (or a mapping with 'actions')")
        parsed.append([_action(a, f"step {i}, action {j}") for j, a in enumerate(actions, start=1)])
    return parsed


def load_scenario(path: str | Path) -> list[list[Action]]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from None
    try:
        return parse_scenario(document)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


@dataclass
class Scenario:
    """Loaded steps and how many have run."""

    steps: list[list[Action]]
    position: int = 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.steps)

    def next_step(self) -> list[Action]:
        step = self.steps[self.position]
        self.position += 1
        return step
