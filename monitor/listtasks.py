"""The `tasks` command: list scheduled tasks from the Workspace API, as a table or JSON.

A module of its own so that it loads what listing needs (the config, the Workspace client, the table) and
nothing of the runtime that `once`, `check` and `run` build: no store, no Slack, no scheduler, no metrics
server (tests/unit/test_startup_imports.py holds it). Start-up is most of what a one-page listing costs.

Exit codes: 0 success; 1 the API failed or the listing is incomplete; 2 bad config or missing credentials.
"""

from __future__ import annotations

import argparse
import os
import sys

from monitor.config import ConfigError, Credentials, load_settings
from monitor.logs import register_secret
from monitor.tasklist import output_console, task_table, tasks_json
from monitor.workspace.client import Listing, TaskFilter, WorkspaceClient
from monitor.workspace.errors import ConfigurationError, WorkspaceError
from monitor.workspace.factory import build_client

__all__ = ["tasks"]

#: Progress is shown when a terminal waits for more pages than this.
PROGRESS_AFTER_PAGES = 4

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _fail(message: str, code: int) -> int:
    print(f"workspace-monitor: {message}", file=sys.stderr)
    return code


def _filters(args: argparse.Namespace) -> list[TaskFilter]:
    statuses = [args.status] if args.status != "ANY" else [None]
    schedules = [args.schedule] if args.schedule else [None, "LIFE_CYCLE"]
    return [
        TaskFilter(task_name=args.name, task_type=args.task_type, scheduled_type=schedule, last_status=status)
        for status in statuses
        for schedule in schedules
    ]


async def tasks(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
        credentials = Credentials.from_env(os.environ)
        register_secret(
            credentials.secret_key,
            credentials.security_token,
            credentials.iam_password,
            credentials.auth_token,
        )
        client = build_client(settings.workspace, credentials)
    except ConfigError as exc:
        return _fail("bad configuration:\n" + "\n".join(exc.problems), EXIT_CONFIG)
    except ConfigurationError as exc:
        return _fail(str(exc), EXIT_CONFIG)

    async with client:
        try:
            # JSON is for scripts: no progress bar, and no rich (a table's and a bar's only).
            listing = await (
                client.fetch_many(_filters(args))
                if args.json
                else _list_with_progress(client, _filters(args))
            )
        except ConfigurationError as exc:
            return _fail(str(exc), EXIT_CONFIG)
        except WorkspaceError as exc:
            return _fail(str(exc), EXIT_FAILED)

    tasks = sorted(listing.tasks, key=lambda t: ((t.task_name or "").lower(), t.id))
    if args.json:
        print(tasks_json(tasks))
    else:
        output_console().print(task_table(tasks, title=f"{len(tasks)} scheduled tasks"))
    if not listing.complete:
        return _fail(
            "the listing is incomplete: "
            + "; ".join(listing.problems or ["some pages failed"])
            + ". Run again; if it persists, check the API's health.",
            EXIT_FAILED,
        )
    return EXIT_OK


async def _list_with_progress(client: WorkspaceClient, filters: list[TaskFilter]) -> Listing:
    """The listing, with a progress bar on stderr when it is a terminal and the pages are many."""
    from rich.console import Console

    err = Console(stderr=True)
    if not err.is_terminal:
        return await client.fetch_many(filters)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("listing tasks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        bar = progress.add_task("pages", total=None, visible=False)
        totals: dict[int, tuple[int, int]] = {}

        def on_progress(key: int, done: int, pages: int) -> None:
            totals[key] = (done, pages)
            all_done = sum(d for d, _ in totals.values())
            all_pages = sum(p for _, p in totals.values())
            progress.update(
                bar, completed=all_done, total=all_pages, visible=all_pages > PROGRESS_AFTER_PAGES
            )

        return await client.fetch_many(filters, on_progress=on_progress)
