"""The console notifier: what would go to Slack, printed in the terminal (dry runs, the demo, no Slack token).

It behaves like a chat channel that always accepts (`notify.threads`, as Slack): each post gets a Slack-like
`ts`, so the bookkeeping (message refs, thread replies, updates) runs exactly as it does against Slack.
Lines are never wrapped at the console's width: under systemd (or into a file) a wrapped alert would be
several journal entries, and an alert is read and grepped by line.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from monitor.notify.dispatch import Memo, Notification, Record
from monitor.notify.text import render_text, summary_line, terminal_safe
from monitor.notify.threads import Posted, deliver_in_threads
from monitor.store.base import MessageRef, OutboxRow

__all__ = ["ConsoleNotifier"]

_STYLE = {"NEW": "bold red", "RECURRED": "red", "CHANGED": "yellow", "REPEAT": "magenta", "RESOLVED": "green"}


class ConsoleNotifier:
    kind = "console"

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._ts = itertools.count(1)

    def _next_ts(self) -> str:
        # Like Slack's: seconds.micro-ish, unique across runs (refs stored by one run are found by the next).
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        await deliver_in_threads(self, notification, record)

    async def post(self, channel: str, rows: Sequence[OutboxRow]) -> Posted:
        ts = self._next_ts()
        if len(rows) == 1:
            self._print(f"→ {channel} (message {ts})", rows[0])
        else:
            self._line(
                Text(terminal_safe(f"→ {channel} (message {ts}): digest of {len(rows)} alerts"), style="bold")
            )
            for row in rows:
                self._line(Text(terminal_safe("  • " + summary_line(row.entry.payload))))
        return Posted(channel, ts, digest=len(rows) > 1)

    async def reply(self, ref: MessageRef, row: OutboxRow) -> Posted:
        self._print(f"↳ {ref.channel} thread of {ref.ts}", row)
        return Posted(ref.channel, self._next_ts())

    async def update(self, ref: MessageRef, row: OutboxRow) -> None:
        payload = row.entry.payload
        where = f"✎ {ref.channel} message {ref.ts} updated"
        line = f"{where}: {payload['kind'].lower()} - {summary_line(payload)}"
        self._line(Text(terminal_safe(line), style="dim"))

    async def find_posted(self, channel: str, fingerprint: str, episode: int) -> Posted | None:
        return None  # a terminal keeps no history to look in

    async def find_reply(self, ref: MessageRef, row: OutboxRow) -> Posted | None:
        return None

    def _print(self, where: str, row: OutboxRow) -> None:
        kind = row.entry.payload["kind"]
        self._line(Text(terminal_safe(where), style="bold"))
        self._line(Text(terminal_safe(render_text(row.entry.payload)), style=_STYLE.get(kind, "")))

    def _line(self, text: Text) -> None:
        self.console.print(text, soft_wrap=True)
