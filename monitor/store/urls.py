"""State URLs as they may be shown, and which of them name a backend: `redact_url`, `url_secrets`,
`url_scheme_problem`,
`redact_text`.

A PostgreSQL URL can carry credentials in two places libpq reads: the user info (`user:password@`) and the
query (`?password=...`, `?sslpassword=...`, whose keys libpq percent-decodes too). `redact_url` hides both
and never raises, whatever the text (an operator's typo must not turn into a traceback that prints it).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["SCHEMES", "redact_text", "redact_url", "url_scheme_problem", "url_secrets"]

#: The URL prefixes `open_store` knows.
SCHEMES = ("sqlite://", "postgresql://", "postgres://")
#: libpq connection keywords whose value is a secret (passfile is a path, and may be shown).
SECRET_KEYS = frozenset({"password", "sslpassword"})
HIDDEN = "***"
# A query parameter (or a conninfo `key=value` word): its key and its value.
_PARAM = re.compile(r"(?P<lead>^|[?&;\s])(?P<key>[^=&;#\s?]+)=(?P<value>'[^']*'|[^&;#\s]*)")


def _split_user_info(url: str) -> tuple[str, str, str] | None:
    """(scheme and `//`, user info, the rest after `@`), or None without user info. Parsers disagree on a
    password with a raw `@`, `/` or `?` (libpq wants them percent-encoded): the user info ends at the last
    `@` before the query, or at libpq's (the first `@` before a `/`), whichever is further, so that no part
    of such a password is left outside what is hidden."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None
    query = rest.find("?")
    head = rest if query < 0 else rest[:query]
    slash = rest.find("/")
    libpq = (rest if slash < 0 else rest[:slash]).find("@")
    at = max(head.rfind("@"), libpq)
    if at < 0:
        return None
    return scheme + separator, rest[:at], rest[at + 1 :]


def redact_url(url: str) -> str:
    """The URL as logs and errors may show it: a password in the user info and the values of `password=`
    and `sslpassword=` replaced by ***; the user name, host and other parameters kept. Never raises."""
    shown = url
    split = _split_user_info(url)
    if split is not None:
        prefix, user_info, rest = split
        user, colon, _password = user_info.partition(":")
        shown = f"{prefix}{user}:{HIDDEN}@{rest}" if colon else url

    def hide(match: re.Match[str]) -> str:
        if unquote(match["key"]).lower() not in SECRET_KEYS:
            return match[0]
        return f"{match['lead']}{match['key']}={HIDDEN}"

    return _PARAM.sub(hide, shown)


def url_secrets(url: str) -> list[str]:
    """Every secret the URL carries, as written and percent-decoded, for the logs' redaction to hide
    wherever they appear (an error message from the driver may quote one)."""
    found: list[str] = []
    split = _split_user_info(url)
    if split is not None:
        _user, colon, password = split[1].partition(":")
        if colon and password:
            found.append(password)
    for match in _PARAM.finditer(url):
        if unquote(match["key"]).lower() in SECRET_KEYS and match["value"].strip("'"):
            found.append(match["value"].strip("'"))
    decoded = [unquote(secret) for secret in found]
    return list(dict.fromkeys(secret for secret in found + decoded if secret))


def redact_text(text: str, url: str) -> str:
    """`text` (a driver's error message, say) with every secret of `url` in it replaced by ***."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def url_scheme_problem(url: str) -> str | None:
    """Why `url` names no backend this workspace-monitor has (a mistyped scheme), shown redacted; None when
    its scheme is known."""
    if url.startswith(SCHEMES):
        return None
    return (
        f"state.url {redact_url(url)!r}: unknown scheme; expected sqlite:///path/to/state.db or "
        "postgresql://host/database"
    )
