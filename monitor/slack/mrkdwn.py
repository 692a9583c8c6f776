"""Text primitives for Slack mrkdwn: escaping and clipping user data, mentions, dates, status marks.

Slack reads `&`, `<` and `>` in message text as control characters: `<!channel>`, `<@U123>` and
`<http://x|label>` are pings and links. Every value that comes from the API or the rule file goes through
`user_text` (or at least `escape_mrkdwn`), so a task called `<!channel>` shows literally and pings nobody.
The only markup we write ourselves is `<!date^...>` (built from numbers) and the rule's `mention`, which is
checked token by token first (`mention_text`).

Slack has no escape for its formatting marks (`*bold*`, `_italic_`, `~strike~`, `` `code` ``), so a
mark in user data that could open or close formatting (next to a space, punctuation or either end) is shown
as a look-alike that Slack does not read (`inert_marks`): `*` -> `⁎` (U+204E), `_` -> `ˍ` (U+02CD),
`~` -> `˜` (U+02DC), and every backtick -> `ˋ` (U+02CB). A mark inside a word (`prod_reboot_daily`) is left
as it is: Slack formats only at word boundaries. Inside a code span or block (`user_text(..., code=True)`)
Slack formats nothing, so only backticks, which would end it, are replaced there. No zero-width characters
are used: those are exactly what `_clean` deletes (with every other invisible or direction-changing
character: U+00AD, U+061C, U+115F, U+1160, U+180E, U+200B-U+200F, U+202A-U+202E, U+2060-U+2064,
U+2066-U+206F, U+3164, U+FEFF, U+FFA0, tag characters U+E0000-U+E007F), so a name cannot hide text, fake
a different name, or reorder what is shown.

Plain `@here` / `@channel` text is left alone: Slack only turns it into a ping with `link_names=true` or
`parse=full`, and `SlackMessage` never sets either.

Lengths are counted as Slack's clients do, in UTF-16 code units (`slack_len`): an emoji outside the BMP is
two. That never undercounts what Python's `len` (slack_sdk's validators) sees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from monitor.workspace.models import api_instant

__all__ = [
    "ELLIPSIS",
    "HISTORY_MARKS",
    "SEVERITY_MARKS",
    "api_time_epoch",
    "code_tail",
    "escape_mrkdwn",
    "format_utc",
    "history_strip",
    "inert_marks",
    "iso_epoch",
    "mention_text",
    "plain_user_text",
    "safe_cut",
    "severity_mark",
    "slack_date",
    "slack_len",
    "status_mark",
    "user_text",
]

ELLIPSIS = "…"
#: OVERDUE is no execution's status: a missed-run alert's (monitor.overdue).
HISTORY_MARKS = {"SUCCESS": "✅", "FAIL": "❌", "SKIP": "⏭️", "OVERDUE": "⏰"}
UNKNOWN_MARK = "❔"
SEVERITY_MARKS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

# Slack renders `<!date^...>` only for sane epochs; outside this range we show the fallback text alone.
_MAX_EPOCH = 2**33
# Invisible and direction-changing characters, deleted: soft hyphen, Arabic letter mark, Hangul fillers,
# Mongolian vowel separator, zero-width space/non-joiner, LRM/RLM, bidi embeddings and overrides, word
# joiner and invisible operators, bidi isolates and deprecated format characters, BOM, tag characters.
# (The zero-width joiner U+200D stays: emoji sequences need it.)
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u115f\u1160\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufeff\uffa0\U000e0000-\U000e007f]+"
)
# Whitespace and control characters (C0, C1, line/paragraph separators) that could break a one-line value
# over several lines.
_BREAKING = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]+")
# A formatting mark Slack could read: at either end, or next to anything but a letter or digit.
_MARK = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])|`")
_LOOK_ALIKE = {"*": "\u204e", "_": "\u02cd", "~": "\u02dc", "`": "\u02cb"}
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MENTION_TOKEN = re.compile(
    r"<!subteam\^(?P<team>[A-Z0-9]+)(?:\|(?P<label>[^<>|]{1,100}))?>"
    r"|<@[UW][A-Z0-9]+>|<!(?:here|channel|everyone)>|@[\w.-]{1,80}"
)


def escape_mrkdwn(text: str) -> str:
    """`&`, `<`, `>` as the entities Slack decodes for display (only these: Slack decodes no others)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inert_marks(text: str) -> str:
    """`text` with every formatting mark Slack could read replaced by its look-alike (see the module)."""
    if not any(mark in text for mark in _LOOK_ALIKE):
        return text
    return _MARK.sub(lambda match: _LOOK_ALIKE[match.group()], text)


def slack_len(text: str) -> int:
    """Length in UTF-16 code units, how Slack measures text limits."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _clean(value: object, one_line: bool) -> str:
    text = "" if value is None else str(value)
    # Lone surrogates (a JSON "\ud800" from the API) cannot be encoded to UTF-8 for the HTTP body.
    text = _SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text)
    if one_line:
        return _BREAKING.sub(" ", text).strip()
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _cleaned_prefix(value: object, limit: int, one_line: bool) -> str:
    """The cleaned value, or enough of its start to fill `limit` (cleaning a 100 kB string to show 80
    characters of it would be wasted work; cleaning only shrinks text, so grow the prefix until it fills)."""
    text = "" if value is None else str(value)
    size = limit * 2 + 64
    while True:
        cleaned = _clean(text[:size], one_line)
        if size >= len(text) or len(cleaned) > limit:
            return cleaned
        size *= 4


def user_text(
    value: object, limit: int, *, one_line: bool = True, code: bool = False, keep_marks: bool = False
) -> str:
    """A user value as safe mrkdwn: cleaned, escaped and at most `limit` long (with `…` when cut).

    The cut happens on the raw text, character by character, so it never splits `&amp;` or a surrogate
    pair; one-line values have their line breaks and control characters turned into spaces so a task name
    cannot fake extra lines of the message.
    """
    cleaned = _cleaned_prefix(value, limit, one_line)
    if code:
        cleaned = cleaned.replace("`", _LOOK_ALIKE["`"])
    elif not keep_marks:  # text of our own that means its `code` spans (an error reply), marks stay
        cleaned = inert_marks(cleaned)
    text = escape_mrkdwn(cleaned)
    if slack_len(text) <= limit:
        return text
    budget = limit - 1  # room for the ellipsis
    out: list[str] = []
    used = 0
    for char in cleaned:
        piece = escape_mrkdwn(char)
        size = slack_len(piece)
        if used + size > budget:
            break
        out.append(piece)
        used += size
    return "".join(out).rstrip() + ELLIPSIS


#: What stands in for `<`, `>` and `&` in a plain_text object, where Slack documents no escaping.
_PLAIN_LOOK_ALIKE = str.maketrans({"<": "‹", ">": "›", "&": "＆"})


def plain_user_text(value: object, limit: int) -> str:
    """A user value for a `plain_text` object that must name it (a confirm dialog's text is plain_text
    only): one line, `<`, `>` and `&` replaced by look-alikes (no entity, no token can form), at most
    `limit` long."""
    cleaned = _cleaned_prefix(value, limit, True).translate(_PLAIN_LOOK_ALIKE)
    if slack_len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - 1]
    while slack_len(cut) > limit - 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


def code_tail(value: object, limit: int) -> str:
    """The end of a user value (a script's output) as the body of a code block: line breaks kept, control
    and invisible characters cleaned, `&<>` escaped, backticks replaced (they would end the block), at
    most `limit` long; when cut, the start goes and `…` marks it (what a script printed last is what
    says why it failed)."""
    text = "" if value is None else str(value)
    if len(text) > limit * 2 + 64:  # cleaning only shrinks text: the tail this long is enough
        text = text[-(limit * 2 + 64) :]
    cleaned = _clean(text, False).replace("`", _LOOK_ALIKE["`"])
    escaped = escape_mrkdwn(cleaned)
    if slack_len(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 0
    for char in reversed(cleaned):
        piece = escape_mrkdwn(char)
        size = slack_len(piece)
        if used + size > limit - 1:
            break
        out.append(piece)
        used += size
    return ELLIPSIS + "".join(reversed(out)).lstrip()


def safe_cut(text: str, limit: int) -> str:
    """`text` (our own mrkdwn, user values already escaped) cut to `limit`, never inside an entity or a
    `<...>` token, preferring the last line break; `…` marks the cut."""
    if slack_len(text) <= limit:
        return text
    budget = limit - 1
    # Work in code points, then trim until the UTF-16 length fits (astral characters count twice).
    cut = text[:budget]
    while slack_len(cut) > budget:
        cut = cut[:-1]
    newline = cut.rfind("\n")
    if newline >= len(cut) // 2:
        cut = cut[:newline]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opening = cut.rfind("<")
    if opening != -1 and ">" not in cut[opening:]:
        cut = cut[:opening]
    return cut.rstrip() + ELLIPSIS


def mention_text(mention: object) -> str:
    """The rule's mention as markup: each valid token as is (it is meant to ping), anything else escaped so
    it shows literally. A user-group label is escaped inside its token."""
    if not isinstance(mention, str):
        return ""
    parts = []
    for token in _clean(mention, True).split(" ")[:10]:
        match = _MENTION_TOKEN.fullmatch(token)
        if match is None:
            if token:
                parts.append(escape_mrkdwn(token))
        elif match.group("team") is not None and match.group("label") is not None:
            parts.append(f"<!subteam^{match.group('team')}|{escape_mrkdwn(match.group('label'))}>")
        else:
            parts.append(token)
    return " ".join(parts)


def severity_mark(severity: object) -> str:
    return SEVERITY_MARKS.get(str(severity), "⚪")


def status_mark(status: object) -> str:
    return HISTORY_MARKS.get(str(status), UNKNOWN_MARK)


def history_strip(history: Sequence[object]) -> str:
    """Oldest execution first, as people read a timeline (the payload keeps newest first)."""
    return "".join(status_mark(status) for status in reversed(history))


def format_utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def slack_date(epoch: int, fallback: str | None = None) -> str:
    """A date every reader sees in their own time zone; `fallback` (ours, never user data) for old clients."""
    if not 0 <= epoch < _MAX_EPOCH:
        return escape_mrkdwn(fallback or str(epoch))
    shown = fallback or format_utc(epoch)
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{shown}>"


def iso_epoch(text: object) -> int | None:
    """Seconds since the epoch of an ISO 8601 time (ours: `opened_at`, `decided_at`); naive means UTC."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _epoch(moment)


def _epoch(moment: datetime) -> int | None:
    try:
        return int(moment.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def api_time_epoch(text: object, zone: object) -> int | None:
    """Epoch of an API time: "2024-11-29 02:00:00" in the task's `time_zone`, or RFC 3339 with "Z" or an
    offset (milliseconds or not), whatever the zone says; None when it cannot be known, so the caller shows
    the API's text alone."""
    if not isinstance(text, str) or (zone is not None and not isinstance(zone, str)):
        return None
    moment = api_instant(text, zone)
    return _epoch(moment) if moment is not None else None
