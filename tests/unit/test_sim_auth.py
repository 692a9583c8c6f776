"""The simulator's gatekeeper: AK/SK signatures re-computed over the raw request, tokens and their expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from monitor.devtools.sim.auth import (
    Authenticator,
    AuthFailure,
    Credential,
    IamFailure,
    TokenStore,
    parse_password_login,
)
from monitor.workspace import signer

NOW = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)
AK, SK = "AKSIMUNIT", "sk-unit"
TEMP_AK, TEMP_SK, TOKEN = "AKTEMP", "sk-temp", "security-token"
PROJECT = "p" * 32
PATH = f"/v2/{PROJECT}/scheduled-tasks"


def authenticator(tokens: TokenStore | None = None, clock: datetime = NOW) -> Authenticator:
    return Authenticator(
        project_id=PROJECT,
        credentials=[Credential(AK, SK), Credential(TEMP_AK, TEMP_SK, TOKEN)],
        static_tokens=["static-1"],
        tokens=tokens or TokenStore(),
        clock=lambda: clock,
    )


def signed(
    query: str = "limit=50&offset=0",
    *,
    ak: str = AK,
    sk: str = SK,
    security_token: str | None = None,
    date: datetime = NOW,
) -> CIMultiDict[str]:
    params = [(k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p)]
    headers = {"Host": "127.0.0.1:1", "X-Sdk-Date": signer.format_sdk_date(date), "X-Project-Id": PROJECT}
    if security_token:
        headers["X-Security-Token"] = security_token
    headers["Authorization"] = signer.sign(
        access_key=ak,
        secret_key=sk,
        method="GET",
        path=PATH,
        params=params,
        headers=headers,
    )
    return CIMultiDict(headers)


def test_a_signed_request_passes() -> None:
    principal = authenticator().verify("GET", PATH + "?limit=50&offset=0", signed(), b"")
    assert (principal.kind, principal.project_id, principal.name) == ("aksk", PROJECT, AK)


def test_blank_query_values_are_part_of_the_signature() -> None:
    query = "last_status=&limit=50&offset=0"
    assert authenticator().verify("GET", f"{PATH}?{query}", signed(query), b"").kind == "aksk"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda raw, h: (raw.replace("limit=50", "limit=49"), h), "verify aksk signature fail"),
        (lambda raw, h: (raw, h | {"X-Project-Id": "other"}), "verify aksk signature fail"),
        (lambda raw, h: (raw, h | {"Authorization": h["Authorization"].replace(AK, "NOPE")}), "access key"),
        (lambda raw, h: (raw, h | {"Authorization": "Basic abc"}), "not SDK-HMAC-SHA256"),
        (lambda raw, h: (raw, {k: v for k, v in h.items() if k != "Host"}), "signed header host is missing"),
    ],
)
def test_tampering_is_rejected(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    raw, headers = change(PATH + "?limit=50&offset=0", dict(signed()))
    with pytest.raises(AuthFailure, match=reason) as caught:
        authenticator().verify("GET", raw, CIMultiDict(headers), b"")
    assert (caught.value.status, caught.value.code) == (401, "APIGW.0301")


@pytest.mark.parametrize(("skew", "ok"), [(timedelta(minutes=14), True), (timedelta(minutes=16), False)])
def test_clock_skew_limit(skew: timedelta, ok: bool) -> None:
    for sign in (1, -1):
        headers = signed(date=NOW + sign * skew)
        if ok:
            authenticator().verify("GET", PATH + "?limit=50&offset=0", headers, b"")
        else:
            with pytest.raises(AuthFailure, match="15 minutes"):
                authenticator().verify("GET", PATH + "?limit=50&offset=0", headers, b"")


def test_temporary_key_needs_its_signed_security_token() -> None:
    raw = PATH + "?limit=50&offset=0"
    assert authenticator().verify(
        "GET", raw, signed(ak=TEMP_AK, sk=TEMP_SK, security_token=TOKEN), b""
    ).kind == ("temporary")
    with pytest.raises(AuthFailure, match="needs the X-Security-Token"):
        authenticator().verify("GET", raw, signed(ak=TEMP_AK, sk=TEMP_SK), b"")
    with pytest.raises(AuthFailure, match="does not belong"):
        authenticator().verify("GET", raw, signed(ak=TEMP_AK, sk=TEMP_SK, security_token="other"), b"")
    unsigned = signed(ak=TEMP_AK, sk=TEMP_SK)
    unsigned["X-Security-Token"] = TOKEN  # added after signing
    with pytest.raises(AuthFailure, match="must be signed"):
        authenticator().verify("GET", raw, unsigned, b"")


def test_tokens_expire_with_apigw_0307() -> None:
    store = TokenStore()
    token = store.issue(user="u", project_id=PROJECT, now=NOW, ttl=timedelta(hours=24))
    headers = CIMultiDict({"X-Auth-Token": token.value})
    assert authenticator(store).verify("GET", PATH, headers, b"").kind == "token"
    later = authenticator(store, clock=NOW + timedelta(hours=24))
    with pytest.raises(AuthFailure) as caught:
        later.verify("GET", PATH, headers, b"")
    assert (caught.value.code, caught.value.message) == ("APIGW.0307", "The token must be updated.")
    assert store.expire_all(NOW) == 1
    with pytest.raises(AuthFailure, match="updated"):
        authenticator(store).verify("GET", PATH, headers, b"")


def test_static_unknown_and_missing_tokens() -> None:
    assert (
        authenticator().verify("GET", PATH, CIMultiDict({"X-Auth-Token": "static-1"}), b"").kind
        == "static-token"
    )
    with pytest.raises(AuthFailure, match="token is not valid"):
        authenticator().verify("GET", PATH, CIMultiDict({"X-Auth-Token": "guess"}), b"")
    with pytest.raises(AuthFailure, match="neither"):
        authenticator().verify("GET", PATH, CIMultiDict(), b"")


def login_body(**user: object) -> dict[str, object]:
    fields = {"name": "u", "password": "p", "domain": {"name": "d"}} | user
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": fields}},
            "scope": {"project": {"id": PROJECT}},
        }
    }


def test_password_login_parsing() -> None:
    login = parse_password_login(login_body(password="s3cret"))
    assert (login.user, login.password, login.domain, login.project_id) == ("u", "s3cret", "d", PROJECT)
    assert "s3cret" not in repr(login)
    unscoped = login_body()
    unscoped["auth"]["scope"] = {}  # type: ignore[index]
    bad_bodies: list[object] = [None, {"auth": {}}, login_body(password=""), unscoped]
    for bad in bad_bodies:
        with pytest.raises(IamFailure) as caught:
            parse_password_login(bad)
        assert caught.value.status == 400
