"""What one cycle looks up for its messages, within one budget of requests, and the script output they show.

A message about a failed execution shows its failed desktops (one `records/{record_id}` request) and, for an
EXECUTE_SCRIPT task, each failed desktop's script `reason` and the tail of its `output` (one
`script-execution-records?script_task_id=` request, then one `script-execution-records/{id}` per desktop
shown). All of these come out of one budget per cycle (`MAX_MESSAGE_LOOKUPS`), in the order the decisions
came: a mass failure of 10,000 script tasks costs at most that many requests, and the messages past the
budget go out without desktops or output, as when the records API is forbidden.

`plan_lookups` decides who gets what before any request (the script lists cost one each, and at least one
output is reserved with each); `plan_outputs` spends what is left on outputs once the lists are known.
`output_tail` is the part of an output a message keeps: its last lines, since a script fails at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_MESSAGE_LOOKUPS",
    "MAX_SCRIPT_OUTPUTS",
    "OUTPUT_TAIL_CHARS",
    "OUTPUT_TAIL_LINES",
    "LookupPlan",
    "Wanted",
    "output_tail",
    "plan_lookups",
    "plan_outputs",
]

#: Requests one cycle makes for its messages' details (desktops, script lists, script outputs).
MAX_MESSAGE_LOOKUPS = 50
#: Failed desktops whose script output one message shows.
MAX_SCRIPT_OUTPUTS = 3
#: How much of an output's end a message keeps (the full output is a button away).
OUTPUT_TAIL_LINES = 12
OUTPUT_TAIL_CHARS = 800


@dataclass(frozen=True)
class Wanted:
    """An execution a message is about: its task, record, and whether it ran a script."""

    task_id: str
    record_id: str
    script: bool


@dataclass(frozen=True)
class LookupPlan:
    details: list[Wanted]
    #: The script executions whose records are listed (each also reserved one output).
    scripts: list[Wanted]
    #: Requests left for outputs after the details, the lists and the reserved outputs.
    spare: int


def plan_lookups(wanted: Sequence[Wanted], budget: int = MAX_MESSAGE_LOOKUPS) -> LookupPlan:
    """In order, each execution's desktops (1 request), and for a script its list and one output (2 more)
    while the budget lasts; a script execution that cannot have both still gets its desktops."""
    details: list[Wanted] = []
    scripts: list[Wanted] = []
    left = budget
    for item in dict.fromkeys(wanted):
        if left < 1:
            break
        details.append(item)
        left -= 1
        if item.script and left >= 2:
            scripts.append(item)
            left -= 2
    return LookupPlan(details, scripts, left)


def plan_outputs(failed: Sequence[Sequence[str]], spare: int) -> list[list[str]]:
    """Which failed script records to read the output of, per listed execution (`failed`, in plan order):
    the first of each (reserved by `plan_lookups`), then more in order while `spare` lasts, at most
    MAX_SCRIPT_OUTPUTS each."""
    chosen = [list(records[:1]) for records in failed]
    for index, records in enumerate(failed):
        extra = min(len(records), MAX_SCRIPT_OUTPUTS) - len(chosen[index])
        take = max(0, min(extra, spare))
        chosen[index].extend(records[1 : 1 + take])
        spare -= take
    return chosen


def output_tail(output: str | None, *, lines: int = OUTPUT_TAIL_LINES, chars: int = OUTPUT_TAIL_CHARS) -> str:
    """The last `lines` lines of `output`, at most `chars` characters, with `…` first when anything was left
    out; trailing blank lines do not count. Raw text: the renderer escapes it."""
    if not output:
        return ""
    text = output.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    every = text.split("\n")
    tail = "\n".join(every[-lines:])
    if len(every) <= lines and len(tail) <= chars:
        return tail
    return "…" + tail[-(chars - 1) :].lstrip("\n")
