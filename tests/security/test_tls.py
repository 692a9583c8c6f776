"""TLS: verification is on by default and can only be widened by naming a CA bundle (`workspace.ca_bundle`).

What it proves, against a real HTTPS server on loopback with a self-signed certificate (made with `openssl`):
- by default the Workspace client refuses the server (TransportError naming the certificate), and the server
  never receives a request: no token reaches a server that was not verified;
- the IAM token request is verified the same way: the IAM password never reaches an unverified server;
- with `ca_bundle` naming the certificate, both are accepted;
- the Slack notifier, built as `once`/`run` build it, refuses a self-signed `slack.api_url` the same way,
  before the bot token is sent;
- there is no setting that turns verification off: `verify: false` and the like are unknown settings.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from monitor.config import ConfigError, Credentials, Settings, WorkspaceSettings, load_settings
from monitor.decide import DecisionKind
from monitor.devtools.slackstub import DEFAULT_TOKEN
from monitor.notify.dispatch import DeliveryError
from monitor.runtime import make_notifier
from monitor.store.base import OutboxEntry, OutboxRow, OutboxState
from monitor.workspace.client import TaskFilter
from monitor.workspace.errors import ConfigurationError, TransportError
from monitor.workspace.factory import build_client, tls_context
from tests.support.slack import payload

PROJECT = "0123456789abcdef0123456789abcdef"
TOKEN = "tls-test-token-0123456789"
IAM_PASSWORD = "tls-iam-password-0123456789"
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class HttpsServer:
    url: str
    seen: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def server(certificate: tuple[Path, Path]) -> AsyncIterator[HttpsServer]:
    """Answers the list endpoint (an empty project) and IAM token requests; remembers every request."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: list[dict[str, str]] = []

    async def tasks(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"scheduled_tasks": [], "total_count": 0})

    async def tokens(request: web.Request) -> web.Response:
        seen.append({**request.headers, "body": await request.text()})
        body = {"token": {"expires_at": "2099-01-01T00:00:00.000000Z"}}
        return web.json_response(body, status=201, headers={"X-Subject-Token": "tls-issued-token-0123456789"})

    app = web.Application()
    app.router.add_get("/v2/{project}/scheduled-tasks", tasks)
    app.router.add_post("/v3/auth/tokens", tokens)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield HttpsServer(f"https://127.0.0.1:{port}", seen)
    finally:
        await runner.cleanup()


def settings(server: HttpsServer, **extra: object) -> WorkspaceSettings:
    return WorkspaceSettings(endpoint=server.url, iam_endpoint=server.url, project_id=PROJECT, **extra)  # type: ignore[arg-type]


TOKEN_AUTH = Credentials(auth_token=TOKEN)
IAM_AUTH = Credentials(iam_username="u", iam_password=IAM_PASSWORD, iam_domain="d")


async def list_once(workspace: WorkspaceSettings, credentials: Credentials) -> None:
    async with build_client(workspace.model_copy(update={"retry_attempts": 1}), credentials) as client:
        await client.fetch_tasks(TaskFilter())


@pytest.mark.parametrize("credentials", [TOKEN_AUTH, IAM_AUTH], ids=["token", "iam-password"])
async def test_a_self_signed_server_is_refused_by_default_and_hears_nothing(
    server: HttpsServer, credentials: Credentials
) -> None:
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        await list_once(settings(server), credentials)
    assert server.seen == []


@pytest.mark.parametrize("credentials", [TOKEN_AUTH, IAM_AUTH], ids=["token", "iam-password"])
async def test_the_named_ca_bundle_is_trusted(
    server: HttpsServer, certificate: tuple[Path, Path], credentials: Credentials
) -> None:
    await list_once(settings(server, ca_bundle=str(certificate[0])), credentials)
    assert server.seen, "no request arrived"
    assert server.seen[-1].get("X-Auth-Token") in (TOKEN, "tls-issued-token-0123456789")


async def test_slack_at_a_self_signed_api_url_is_refused_and_hears_nothing(
    server: HttpsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot token goes only to a verified Slack (`slack.api_url` overridable, never unverified)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", DEFAULT_TOKEN)
    settings = Settings.model_validate({"slack": {"api_url": f"{server.url}/api/"}, "source": "test"})
    notifier = make_notifier(settings)
    entry = OutboxEntry(
        fingerprint="f", episode=1, kind=DecisionKind.NEW, channel="#ops", payload=payload(), created_at=NOW
    )
    with pytest.raises(DeliveryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        await notifier.post("#ops", [OutboxRow(1, entry, OutboxState.PENDING, 0, NOW)])
    assert server.seen == []


@pytest.mark.parametrize(
    "setting", ["verify: false", "insecure: true", "tls_verify: false", "ssl_verify: false", "verify_ssl: no"]
)
def test_no_setting_turns_verification_off(tmp_path: Path, setting: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"workspace:\n  region: cn-north-4\n  {setting}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert any("unknown setting" in problem for problem in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("ca_bundle", [None, ""])
def test_without_a_named_bundle_the_system_cas_verify_hostnames(ca_bundle: str | None) -> None:
    """`ca_bundle: ""` must not read as "no verification" anywhere."""
    context = tls_context(ca_bundle)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_named_bundle_is_added_to_the_system_cas(certificate: tuple[Path, Path]) -> None:
    """README: "this adds a CA": public endpoints stay trusted next to a proxy's CA."""
    system = tls_context(None).cert_store_stats()["x509_ca"]
    widened = tls_context(str(certificate[0]))
    assert widened.cert_store_stats()["x509_ca"] == system + 1
    assert widened.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize("name", ["missing.pem", "not-a-cert.pem"])
def test_an_unusable_bundle_is_a_configuration_error(tmp_path: Path, name: str) -> None:
    (tmp_path / "not-a-cert.pem").write_text("hello\n")
    with pytest.raises(ConfigurationError, match=r"workspace\.ca_bundle"):
        tls_context(str(tmp_path / name))
