"""AK/SK request signing (`SDK-HMAC-SHA256`), byte-for-byte as huaweicloudsdkcore's `Signer` does it.

The canonical request is
    METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n signed headers \\n sha256(body)
where the URI is each unquoted path segment re-quoted with only `~` safe and always ends in `/`; the query is
the (key, value) pairs sorted as raw strings, then both quoted with only `~` safe; and every header whose name
has no `_` is signed, lower-cased, its value stripped. The string to sign is
    SDK-HMAC-SHA256 \\n X-Sdk-Date \\n sha256(canonical request)
and `Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex(hmac(SK, string))`.

The same functions serve the client (to sign) and the simulator (to verify), and the tests compare them with
the official SDK on a table of requests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "EMPTY_BODY_SHA256",
    "ParsedAuthorization",
    "canonical_query",
    "canonical_request",
    "format_sdk_date",
    "parse_authorization",
    "sign",
    "signature",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

QueryPairs = Sequence[tuple[str, str]]


def _quote(value: str) -> str:
    return quote(value, safe="~")


def format_sdk_date(now: datetime) -> str:
    """The `X-Sdk-Date` value for an aware or UTC-naive datetime."""
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    return now.strftime(DATE_FORMAT)


def canonical_uri(path: str) -> str:
    uri = "/".join(_quote(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(params: QueryPairs) -> str:
    """The signed query string; it is also the exact query string to send, so server and client agree."""
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params))


def _signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str, path: str, params: QueryPairs, headers: Mapping[str, str], body: bytes
) -> tuple[str, list[str]]:
    """The canonical request text and the sorted list of signed header names."""
    signed = _signed_header_names(headers)
    values = {name.lower(): str(value).strip() for name, value in headers.items()}
    header_block = "".join(f"{name}:{values[name]}\n" for name in signed)
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    text = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(params),
            header_block,
            ";".join(signed),
            body_hash,
        ]
    )
    return text, signed


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    params: QueryPairs,
    headers: Mapping[str, str],
    body: bytes = b"",
) -> str:
    """The `Authorization` header value. `headers` must already hold `Host` and `X-Sdk-Date`."""
    sdk_date = next((v for k, v in headers.items() if k.lower() == "x-sdk-date"), None)
    if sdk_date is None:
        raise ValueError("X-Sdk-Date must be set before signing")
    text, signed = canonical_request(method, path, params, headers, body)
    sig = signature(secret_key, sdk_date.strip(), text)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed)}, Signature={sig}"


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Split an `Authorization` header into its parts; None when it is not an SDK-HMAC-SHA256 header."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    try:
        return ParsedAuthorization(
            access_key=fields["Access"],
            signed_headers=tuple(fields["SignedHeaders"].split(";")),
            signature=fields["Signature"],
        )
    except KeyError:
        return None
