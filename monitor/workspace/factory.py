"""Builds a `WorkspaceClient` from settings and credentials: the endpoint, and which auth scheme to use.

Auth is chosen by `workspace.auth`; with `auto` (the default) the first scheme whose credentials are present
wins, in this order: AK/SK (temporary when `HUAWEICLOUD_SDK_SECURITY_TOKEN` is set), IAM password, static
token. No credentials at all is a `ConfigurationError` that lists what to set.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx

from monitor.config import Credentials, WorkspaceSettings
from monitor.workspace.auth import AkSkAuth, Auth, IamPasswordAuth, StaticTokenAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.tls import default_context

__all__ = [
    "GLOBAL_IAM_ENDPOINT",
    "IAM_ENDPOINTS",
    "KNOWN_REGIONS",
    "WORKSPACE_ENDPOINTS",
    "build_auth",
    "build_client",
    "iam_endpoint",
    "tls_context",
    "workspace_endpoint",
]

#: Workspace hosts: every region of huaweicloudsdkworkspace 3.1.219's `WorkspaceRegion`, plus na-mexico-1,
#: which the Workspace API's endpoint list names and that SDK does not yet (issue 15).
WORKSPACE_ENDPOINTS: dict[str, str] = {
    region: f"https://workspace.{region}.myhuaweicloud.com"
    for region in (
        "af-north-1", "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "cn-east-3",
        "cn-east-5", "cn-north-4", "cn-north-9", "cn-north-11", "cn-south-1", "cn-southwest-2",
        "eu-west-101", "la-north-2", "la-south-2", "me-east-1", "na-mexico-1", "sa-brazil-1", "tr-west-1",
    )
}  # fmt: skip
KNOWN_REGIONS = frozenset(WORKSPACE_ENDPOINTS)

#: IAM hosts as the official SDK maps them: huaweicloudsdkcore's `auth/endpoint.py` table, with eu-west-101
#: on `.myhuaweicloud.eu` (huaweicloudsdkiam's `IamRegion`, and the SDK's README: "European station users
#: need to specify the endpoint as https://iam.eu-west-101.myhuaweicloud.eu"). A region without a regional
#: IAM host (cn-north-11, af-north-1, ...) uses the global one, as huaweicloudsdkcore does.
GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"
IAM_ENDPOINTS: dict[str, str] = {
    **{
        region: f"https://iam.{region}.myhuaweicloud.com"
        for region in (
            "cn-north-1", "cn-north-2", "cn-north-4", "cn-north-9", "cn-north-12", "cn-east-2", "cn-east-3",
            "cn-east-4", "cn-east-5", "cn-south-1", "cn-south-2", "cn-southwest-2", "ap-southeast-1",
            "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "af-south-1", "sa-brazil-1", "la-south-2",
            "la-north-2", "na-mexico-1", "eu-west-0", "my-kualalumpur-1", "ru-moscow-1", "me-east-1",
            "ae-ad-1", "tr-west-1",
        )
    },
    "eu-west-101": "https://iam.eu-west-101.myhuaweicloud.eu",
}  # fmt: skip


def workspace_endpoint(settings: WorkspaceSettings) -> str:
    if settings.endpoint:
        return settings.endpoint
    if not settings.region:
        raise ConfigurationError(
            "no Workspace endpoint",
            hint="set workspace.region (e.g. cn-north-4) or workspace.endpoint, or WORKSPACE_REGION",
        )
    endpoint = WORKSPACE_ENDPOINTS.get(settings.region)
    if endpoint is None:
        raise ConfigurationError(
            f"unknown region {settings.region!r}",
            hint=f"Workspace is offered in {', '.join(sorted(KNOWN_REGIONS))}; "
            "for another endpoint set workspace.endpoint",
        )
    return endpoint


def iam_endpoint(region: str) -> str:
    """The IAM host that issues tokens for `region` (see IAM_ENDPOINTS)."""
    return IAM_ENDPOINTS.get(region, GLOBAL_IAM_ENDPOINT)


def _iam_endpoint(settings: WorkspaceSettings) -> str:
    if settings.iam_endpoint:
        return settings.iam_endpoint
    if settings.region:
        return iam_endpoint(settings.region)
    raise ConfigurationError(
        "IAM password auth needs an IAM endpoint",
        hint="set workspace.region or workspace.iam_endpoint (HUAWEICLOUD_SDK_IAM_ENDPOINT)",
    )


def build_auth(settings: WorkspaceSettings, credentials: Credentials, http: httpx.AsyncClient) -> Auth:
    mode = settings.auth
    if mode == "auto":
        if credentials.access_key or credentials.secret_key:
            mode = "aksk"
        elif credentials.iam_username or credentials.iam_password:
            mode = "iam_password"
        elif credentials.auth_token:
            mode = "token"
        else:
            raise ConfigurationError(
                "no Huawei Cloud credentials in the environment",
                hint="set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (plus HUAWEICLOUD_SDK_SECURITY_TOKEN for "
                "temporary keys), or HUAWEICLOUD_IAM_USERNAME/PASSWORD/DOMAIN, or HUAWEICLOUD_AUTH_TOKEN",
            )
    if mode == "aksk":
        return AkSkAuth(
            credentials.access_key or "",
            credentials.secret_key or "",
            project_id=settings.project_id,
            security_token=credentials.security_token,
        )
    if mode == "iam_password":
        return IamPasswordAuth(
            iam_endpoint=_iam_endpoint(settings),
            username=credentials.iam_username or "",
            password=credentials.iam_password or "",
            domain=credentials.iam_domain or "",
            project_id=settings.project_id or "",
            http=http,
        )
    return StaticTokenAuth(credentials.auth_token or "")


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification always on: the system's CAs, plus the certificates of `ca_bundle` when named (a corporate
    proxy's). There is deliberately no way to turn verification off. The system's CAs may have been loaded
    already, on a thread, while the command started (monitor.workspace.tls)."""
    context = default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigurationError(
                f"workspace.ca_bundle {ca_bundle!r} cannot be used: {reason}",
                hint="name a readable PEM file of CA certificates",
            ) from None
    return context


def build_client(
    settings: WorkspaceSettings,
    credentials: Credentials,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    observer: Callable[[str, str], None] | None = None,
) -> WorkspaceClient:
    """A client for the configured project; the IAM token request shares its TLS settings."""
    endpoint = workspace_endpoint(settings)
    if not settings.project_id:
        raise ConfigurationError(
            "no project id", hint="set workspace.project_id or HUAWEICLOUD_SDK_PROJECT_ID"
        )
    verify = tls_context(settings.ca_bundle)
    iam_http = httpx.AsyncClient(timeout=settings.timeout.total_seconds(), transport=transport, verify=verify)
    auth = build_auth(settings, credentials, iam_http)
    return WorkspaceClient(
        endpoint=endpoint,
        project_id=settings.project_id,
        auth=auth,
        concurrency=settings.concurrency,
        timeout=settings.timeout.total_seconds(),
        retry=RetryPolicy(attempts=settings.retry_attempts),
        transport=transport,
        verify=verify,
        closing=[iam_http],
        observer=observer,
    )
