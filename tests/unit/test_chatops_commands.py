"""`parse_command`: every subcommand as a table of texts and what they mean, and the refusals with their
messages. The fuzz test (another file) holds it to totality; here each case says what a person gets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.chatops.commands import (
    MAX_TEXT,
    Ack,
    Alerts,
    Command,
    CommandError,
    Failed,
    Help,
    ListTasks,
    Retry,
    Show,
    Silence,
    Silences,
    Status,
    Unsilence,
    parse_command,
)

TASK_ID = "0b5c3f0e-6a51-4c7e-9d7a-2f1e8c4b9a10"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP silence", Help(topic="silence")),
        ("help nonsense", Help()),
        ("list", ListTasks()),
        ("list status=fail", ListTasks(status="FAIL")),
        ("list status=any", ListTasks()),
        ("list status=SKIP type=reboot schedule=day name=prod", ListTasks("SKIP", "REBOOT", "DAY", "prod")),
        ("  list   name=ünïcödé-任务  page=3 ", ListTasks(name="ünïcödé-任务", page=3)),
        (
            "list type=EXECUTE_SCRIPT schedule=LIFE_CYCLE",
            ListTasks(task_type="EXECUTE_SCRIPT", schedule="LIFE_CYCLE"),
        ),
        ("failed", Failed()),
        ("failed page=2", Failed(page=2)),
        (f"show {TASK_ID}", Show(TASK_ID)),
        ("alerts", Alerts()),
        (f"silence {TASK_ID} 2h", Silence(timedelta(hours=2), "", task_id=TASK_ID)),
        (f"silence {TASK_ID.upper()} 30m", Silence(timedelta(minutes=30), "", task_id=TASK_ID)),
        (
            "silence prod-* 1h30m planned   maintenance, see CHG-42",
            Silence(timedelta(minutes=90), "planned maintenance, see CHG-42", name_glob="prod-*"),
        ),
        ("silence nightly-reboot 1d", Silence(timedelta(days=1), "", name_glob="nightly-reboot")),
        (
            "silence prod-* patch-night kernel update",
            Silence(None, "kernel update", name_glob="prod-*", time_interval="patch-night"),
        ),
        ("silences", Silences()),
        ("unsilence s-1a2b3c4d", Unsilence("s-1a2b3c4d")),
        ("ack 0123456789ABCDEF", Ack("0123456789abcdef")),
        ("retry 0123456789ABCDEF", Retry(alert_id="0123456789abcdef")),
        ("retry 1b2c3d4e-0000-4000-8000-00000000abcd", Retry(task_id="1b2c3d4e-0000-4000-8000-00000000abcd")),
        ("status", Status()),
        ("Status", Status()),
    ],
)
def test_commands(text: str, command: Command) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("frobnicate now", "unknown subcommand 'frobnicate'"),
        ("lsit", "unknown subcommand 'lsit'"),
        ("<!channel>", "unknown subcommand '<!channel>'"),
        ("x" * 100, "unknown subcommand '" + "x" * 29 + "…'"),
    ],
)
def test_an_unknown_subcommand_is_help_saying_so(text: str, note: str) -> None:
    assert parse_command(text) == Help(note=note)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("list status=BROKEN", "status='BROKEN' is not one of: FAIL, SKIP, SUCCESS."),
        ("list type=explode", "type='explode' is not one of: START, STOP, REBOOT,"),
        ("list schedule=hourly", "schedule='hourly' is not one of: FIXED_TIME,"),
        ("list frobnicate", "`list` does not understand 'frobnicate'"),
        ("list status=FAIL status=SKIP", "`status=` is given twice."),
        ("list name=", "`name=` needs a value."),
        ("list page=0", "page='0' is not a page number."),
        ("list page=٣", "page='٣' is not a page number."),
        ("list name=" + "n" * 200, "name= is longer than 128 characters."),
        ("failed now", "`failed` takes no arguments"),
        ("show", "write `show <task_id>`"),
        ("show a b", "write `show <task_id>`"),
        ("show ../../etc/passwd", "'../../etc/passwd' is not a task id"),
        ("silence prod-*", "write `silence <task_id|name-glob> <duration|time-interval> [reason]`"),
        ("silence prod-* 2hours!", "bad duration '2hours!':"),
        ("silence prod-* 90", "bad duration '90': '90' has no unit"),
        ("silence prod-* 0", "a silence needs a duration longer than 0"),
        ("silence prod-* 91d", "91d is longer than the longest silence (12w6d)"),
        ("silence prod-* 99999999999999999999999w", "bad duration '99999999999999999999999w'"),
        ("silence * 1h", "a silence of every task is too broad"),
        ("silence ** 1h", "a silence of every task is too broad"),
        ("silence *?* 1h", "a silence of every task is too broad"),
        ("silence ?* 1h", "a silence of every task is too broad"),
        ("silence [a-z]* 1h", "a silence of every task is too broad"),
        ("silence [!x]*? 1h", "a silence of every task is too broad"),
        ("silence re:( 1h", "a silence from Slack takes a task id or a name glob"),
        ("silence re:.* 90d", "a silence from Slack takes a task id or a name glob"),
        ("silence re:(.+)+z 1h", "a silence from Slack takes a task id or a name glob"),
        ("silence prod-* 1h " + "r" * 400, "the reason is longer than 300 characters."),
        ("unsilence", "write `unsilence <silence_id>`."),
        ("unsilence s/1", "'s/1' is not a silence id."),
        ("ack", "write `ack <alert_id>`."),
        ("ack prod-reboot", "'prod-reboot' is not an alert id."),
        ("retry", "write `retry <task_id|alert_id>`"),
        ("retry ../etc", "'../etc' is not a task id or an alert id."),
        ("alerts all", "`alerts` takes no arguments (got 'all')."),
        ("status please", "`status` takes no arguments"),
        ("list " + "x" * MAX_TEXT, f"that is {MAX_TEXT + 5} characters; a command is at most {MAX_TEXT}."),
    ],
)
def test_refusals_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    assert caught.value.message.startswith(message), caught.value.message


def test_a_long_or_strange_argument_is_shortened_in_the_message() -> None:
    with pytest.raises(CommandError) as caught:
        parse_command("list type=" + "Я" * 500)
    assert "Я" * 39 + "…" in caught.value.message
    assert "Я" * 40 not in caught.value.message


@pytest.mark.parametrize("command", [ListTasks("FAIL", "REBOOT", "DAY", "prod-x", 4), ListTasks(), Failed(7)])
def test_a_page_button_text_reads_back_as_that_page(command: ListTasks | Failed) -> None:
    assert parse_command(command.text(9)) == type(command)(**{**vars(command), "page": 9})


def test_a_reason_keeps_nothing_a_store_cannot() -> None:
    """NUL (PostgreSQL text refuses it) and lone surrogates (not UTF-8) become U+FFFD."""
    command = parse_command("silence prod-* 1h patch\x00ing \ud800night")
    assert isinstance(command, Silence)
    assert command.reason == "patch\ufffding \ufffdnight"
