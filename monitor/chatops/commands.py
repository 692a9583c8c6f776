"""`/tasks` command text -> a `Command`: a pure, total parser (any text -> a Command, or a CommandError).

    help [topic]                                       Help
    list [status=FAIL|SKIP|SUCCESS|any] [type=..] [schedule=..] [name=..] [page=N]
                                                       ListTasks
    failed                                             Failed (FAIL and SKIP now)
    show <task_id>                                     Show
    alerts                                             Alerts (firing, with links to their messages)
    silence <task_id|name-glob> <duration|time-interval> [reason]
                                                       Silence (globs only: no `re:`, no catch-all); a
                                                       time interval's name: during its next window only
    silences                                           Silences
    unsilence <silence_id>                             Unsilence
    ack <alert_id>                                     Ack
    retry <task_id|alert_id>                           Retry (its failed desktops; answered with a confirm)
    status                                             Status
    report [7d|30d]                                    Report (the run history's numbers, 1 to 90 days)

An empty text or an unknown subcommand is `Help` (carrying a note saying what was not understood), because a
person who typed something we do not know wants to see what we do know. Everything else that cannot be read is
a `CommandError` whose message says what to write instead. Nothing else is ever raised: the text comes from
anyone in the workspace, of any length and alphabet (a fuzz test holds us to that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from monitor.durations import format_duration, parse_duration
from monitor.rules.load import RuleFileError, compile_match
from monitor.workspace.vocabulary import LAST_STATUSES, SCHEDULED_TYPES, TASK_TYPES

__all__ = [
    "MAX_SILENCE",
    "MAX_TEXT",
    "SUBCOMMANDS",
    "Ack",
    "Alerts",
    "Command",
    "CommandError",
    "Failed",
    "Help",
    "ListTasks",
    "Report",
    "Retry",
    "Show",
    "Silence",
    "Silences",
    "Status",
    "Unsilence",
    "command_name",
    "is_catch_all",
    "parse_command",
    "silence_duration",
    "storable",
]

#: Slack sends at most a few thousand characters; anything longer is not a command someone typed.
MAX_TEXT = 2000
MAX_REASON = 300
MAX_SILENCE = timedelta(days=90)
MAX_PAGE = 10_000
SUBCOMMANDS = (
    "help", "list", "failed", "show", "alerts", "silence", "silences", "unsilence", "ack", "retry",
    "status", "report",
)  # fmt: skip
#: The longest period `report` covers (the run history keeps 400 days; a message shows 90 well).
MAX_REPORT_DAYS = 90

# Task ids are UUIDs on the real API; anything made of these characters is worth asking the API about.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ALERT_ID = re.compile(r"[0-9a-fA-F]{16}")
_SILENCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME = 128
#: A time interval's name, as the rule file allows it (`rules.schema._RULE_NAME`).
_INTERVAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# What a glob matches besides its literal characters: `*`, `?` and bracket sets (`[a-z]`, `[!x]`).
_GLOB_WILDCARDS = re.compile(r"\[!?\]?[^\]]*\]|[*?]")


class CommandError(Exception):
    """The text is not a command we can run; `message` says why and what to write (plain text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Help:
    topic: str | None = None
    #: Why help is shown instead of what was asked ("unknown subcommand ..."), or None.
    note: str | None = None


@dataclass(frozen=True)
class ListTasks:
    status: str | None = None  # None: any
    task_type: str | None = None
    schedule: str | None = None
    name: str | None = None
    page: int = 1

    def text(self, page: int | None = None) -> str:
        """The command text that lists `page` (default: this one) of the same listing: a button's value."""
        words = ["list"]
        if self.status:
            words.append(f"status={self.status}")
        if self.task_type:
            words.append(f"type={self.task_type}")
        if self.schedule:
            words.append(f"schedule={self.schedule}")
        if self.name:
            words.append(f"name={self.name}")
        words.append(f"page={page or self.page}")
        return " ".join(words)


@dataclass(frozen=True)
class Failed:
    page: int = 1

    def text(self, page: int | None = None) -> str:
        return f"failed page={page or self.page}"


@dataclass(frozen=True)
class Show:
    task_id: str


@dataclass(frozen=True)
class Alerts:
    pass


@dataclass(frozen=True)
class Silence:
    """Mute the alerts of one task (`task_id`) or of every task whose name matches `name_glob`: for
    `duration`, or, with `time_interval` (a name from the rule files' `time_intervals:`, checked by the
    handler), during that interval's next window (the one open now, if one is)."""

    duration: timedelta | None
    reason: str
    task_id: str | None = None
    name_glob: str | None = None
    time_interval: str | None = None

    @property
    def target(self) -> str:
        return self.task_id or self.name_glob or ""


@dataclass(frozen=True)
class Silences:
    pass


@dataclass(frozen=True)
class Unsilence:
    silence_id: str


@dataclass(frozen=True)
class Ack:
    alert_id: str


@dataclass(frozen=True)
class Retry:
    """Retry the failed desktops of an alert (`alert_id`) or of a task's open alert (`task_id`)."""

    alert_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Report:
    """The run history's report of the last `days` days (today included), against the days before."""

    days: int = 7


Command = (
    Help | ListTasks | Failed | Show | Alerts | Silence | Silences | Unsilence | Ack | Retry | Status | Report
)


#: What no store can keep: NUL (PostgreSQL text refuses it) and lone UTF-16 surrogates (not UTF-8; a JSON
#: escape like "\ud800" in a Slack payload decodes to one).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with what no store can keep as U+FFFD: a silence's reason with a NUL failed on PostgreSQL
    ("the state store failed"), one with a lone surrogate raised UnicodeEncodeError on both backends (the
    custom silence form then got no answer at all)."""
    return _UNSTORABLE.sub("\ufffd", text)


def command_name(command: Command) -> str:
    """`ListTasks()` -> "list_tasks": the command's name in metrics (`monitor.metrics.CHATOPS_COMMANDS`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(command).__name__).lower()


def _shown(text: str, limit: int = 40) -> str:
    """A piece of the user's text for an error message: one line, short."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _no_arguments(word: str, args: list[str], command: Command) -> Command:
    if args:
        raise CommandError(f"`{word}` takes no arguments (got {_shown(' '.join(args))!r}).")
    return command


def _choice(key: str, value: str, choices: tuple[str, ...]) -> str:
    upper = value.upper()
    if upper not in choices:
        raise CommandError(f"{key}={_shown(value)!r} is not one of: {', '.join(choices)}.")
    return upper


def _page(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise CommandError(f"page={_shown(text)!r} is not a page number.")
    return int(text)


def _parse_failed(args: list[str]) -> Failed:
    if not args:
        return Failed()
    key, equals, value = args[0].partition("=")
    if len(args) > 1 or key.lower() != "page" or not equals:
        raise CommandError(f"`failed` takes no arguments (got {_shown(' '.join(args))!r}).")
    return Failed(page=_page(value))


def _parse_list(args: list[str]) -> ListTasks:
    values: dict[str, str] = {}
    for arg in args:
        key, equals, value = arg.partition("=")
        key = key.lower()
        if not equals or key not in ("status", "type", "schedule", "name", "page"):
            raise CommandError(
                f"`list` does not understand {_shown(arg)!r}: write "
                "`list [status=FAIL|SKIP|SUCCESS|any] [type=REBOOT] [schedule=DAY] [name=TEXT]`."
            )
        if key in values:
            raise CommandError(f"`{key}=` is given twice.")
        if not value:
            raise CommandError(f"`{key}=` needs a value.")
        values[key] = value
    status = values.get("status")
    if status is not None:
        status = None if status.lower() == "any" else _choice("status", status, LAST_STATUSES)
    task_type = _choice("type", values["type"], TASK_TYPES) if "type" in values else None
    schedule = _choice("schedule", values["schedule"], SCHEDULED_TYPES) if "schedule" in values else None
    name = values.get("name")
    if name is not None and len(name) > _NAME:
        raise CommandError(f"name= is longer than {_NAME} characters.")
    page = _page(values["page"]) if "page" in values else 1
    return ListTasks(status=status, task_type=task_type, schedule=schedule, name=name, page=page)


def _parse_show(args: list[str]) -> Show:
    if len(args) != 1:
        raise CommandError("write `show <task_id>` with one task id (`list` shows the ids).")
    if not _TASK_ID.fullmatch(args[0]):
        raise CommandError(f"{_shown(args[0])!r} is not a task id (`list` shows the ids).")
    return Show(args[0])


def silence_duration(text: str) -> timedelta:
    """A silence's duration as people write it (30m, 4h, 3d, 2w), at most MAX_SILENCE; CommandError says
    what is wrong (shared by `/tasks silence` and the Silence menu's custom modal)."""
    return _duration(text)


def _duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except (ValueError, OverflowError) as exc:
        detail = str(exc) if len(str(exc)) < 120 else "write it like 30m, 2h or 1d"
        raise CommandError(f"bad duration {_shown(text)!r}: {detail}") from None
    if duration <= timedelta(0):
        raise CommandError("a silence needs a duration longer than 0, like 30m, 2h or 1d.")
    if duration > MAX_SILENCE:
        raise CommandError(
            f"{_shown(text)} is longer than the longest silence ({format_duration(MAX_SILENCE)}); "
            "for good, put a silence in the rule file."
        )
    return duration


def _parse_silence(args: list[str]) -> Silence:
    if len(args) < 2:
        raise CommandError(
            "write `silence <task_id|name-glob> <duration|time-interval> [reason]`, e.g. "
            "`silence prod-* 2h maintenance` or `silence prod-* patch-night`."
        )
    target, reason = args[0], storable(" ".join(args[2:]))
    duration, window = _duration_or_window(args[1])
    if len(reason) > MAX_REASON:
        raise CommandError(f"the reason is longer than {MAX_REASON} characters.")
    if _UUID.fullmatch(target):
        return Silence(duration, reason, task_id=target.lower(), time_interval=window)
    if len(target) > _NAME:
        raise CommandError(f"the name pattern is longer than {_NAME} characters.")
    if target.startswith("re:"):
        # A regular expression from anyone with /tasks would run in every cycle after every restart, on
        # Python's backtracking engine: `re:(.+)+z` freezes the daemon, `re:.*` mutes everything.
        raise CommandError(
            "a silence from Slack takes a task id or a name glob (`prod-*`, `nightly-?`), not a regular "
            "expression; for a regex, put the silence in the rule file."
        )
    if is_catch_all(target):
        raise CommandError("a silence of every task is too broad: name a task or a narrower pattern.")
    try:
        compile_match({"task_name": target}, where="silence")
    except RuleFileError as exc:
        raise CommandError(f"bad name pattern: {_shown('; '.join(exc.problems), 160)}") from None
    return Silence(duration, reason, name_glob=target, time_interval=window)


def _duration_or_window(text: str) -> tuple[timedelta | None, str | None]:
    """A duration (`2h`), or else the name of a time interval (`patch-night`: a word with a letter that no
    duration starts like); the handler says when no interval has that name."""
    try:
        return _duration(text), None
    except CommandError:
        if _INTERVAL_NAME.fullmatch(text) and not text[0].isdigit():
            return None, text
        raise


def is_catch_all(glob: str) -> bool:
    """Whether a name glob has no literal character (`*`, `**`, `*?*`, `[a-z]*`): it matches (nearly) any
    task, so a silence with it would mute everything."""
    return _GLOB_WILDCARDS.sub("", glob) == ""


def _one_id(word: str, args: list[str], pattern: re.Pattern[str], what: str) -> str:
    if len(args) != 1:
        raise CommandError(f"write `{word} <{what}>`.")
    if not pattern.fullmatch(args[0]):
        noun = what.replace("_", " ")
        article = "an" if noun[0] in "aeiou" else "a"
        raise CommandError(f"{_shown(args[0])!r} is not {article} {noun}.")
    return args[0]


def _parse_report(args: list[str]) -> Report:
    if not args:
        return Report()
    text = args[0].lower()
    days = text.removesuffix("d")
    if len(args) > 1 or not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= MAX_REPORT_DAYS:
        raise CommandError(
            f"write `report`, `report 7d` or `report 30d` (1 to {MAX_REPORT_DAYS} days; "
            f"got {_shown(' '.join(args))!r})."
        )
    return Report(days=int(days))


def _parse_retry(args: list[str]) -> Retry:
    if len(args) != 1:
        raise CommandError("write `retry <task_id|alert_id>` (`alerts` shows the alert ids).")
    if _ALERT_ID.fullmatch(args[0]):
        return Retry(alert_id=args[0].lower())
    if not _TASK_ID.fullmatch(args[0]):
        raise CommandError(f"{_shown(args[0])!r} is not a task id or an alert id.")
    return Retry(task_id=args[0])


def _parse(text: str) -> Command:
    if len(text) > MAX_TEXT:
        raise CommandError(f"that is {len(text)} characters; a command is at most {MAX_TEXT}.")
    words = text.split()
    if not words:
        return Help()
    word, args = words[0].lower(), words[1:]
    if word in ("help", "?"):
        topic = args[0].lower() if args and args[0].lower() in SUBCOMMANDS else None
        return Help(topic=topic)
    if word == "list":
        return _parse_list(args)
    if word == "failed":
        return _parse_failed(args)
    if word == "show":
        return _parse_show(args)
    if word == "alerts":
        return _no_arguments(word, args, Alerts())
    if word == "silence":
        return _parse_silence(args)
    if word == "silences":
        return _no_arguments(word, args, Silences())
    if word == "unsilence":
        return Unsilence(_one_id(word, args, _SILENCE_ID, "silence_id"))
    if word == "ack":
        return Ack(_one_id(word, args, _ALERT_ID, "alert_id").lower())
    if word == "retry":
        return _parse_retry(args)
    if word == "status":
        return _no_arguments(word, args, Status())
    if word == "report":
        return _parse_report(args)
    return Help(note=f"unknown subcommand {_shown(words[0], 30)!r}")


def parse_command(text: str) -> Command:
    """The command `text` asks for. Raises CommandError (and nothing else) when it cannot be read."""
    if not isinstance(text, str):
        raise CommandError("the command text is missing.")
    try:
        return _parse(text)
    except CommandError:
        raise
    except Exception as exc:  # totality: whatever slipped through is still a polite answer, not a crash
        raise CommandError(
            f"could not read that command ({type(exc).__name__}); try `/tasks help`."
        ) from None
