"""`SimOptions`: everything a simulator is started with, and the default (well-known, fake) credentials.

The defaults are deliberately public: the simulator only listens on loopback, and tests, benchmarks and the
demo all need to know them. Secrets are kept out of `repr` so options can be logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_IAM_DOMAIN",
    "DEFAULT_IAM_PASSWORD",
    "DEFAULT_IAM_USER",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REGION",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_SECURITY_TOKEN",
    "DEFAULT_TEMP_ACCESS_KEY",
    "DEFAULT_TEMP_SECRET_KEY",
    "SimOptions",
]

DEFAULT_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_ACCESS_KEY = "SIMAK0123456789ABCDEF"
DEFAULT_SECRET_KEY = "sim-secret-key-0123456789"  # noqa: S105 - a public, fake credential
DEFAULT_TEMP_ACCESS_KEY = "SIMTEMPAK0123456789AB"
DEFAULT_TEMP_SECRET_KEY = "sim-temp-secret-key-0123456789"  # noqa: S105 - a public, fake credential
DEFAULT_SECURITY_TOKEN = "sim-security-token-0123456789abcdef"  # noqa: S105 - a public, fake credential
DEFAULT_IAM_USER = "sim-user"
DEFAULT_IAM_PASSWORD = "sim-password"  # noqa: S105 - a public, fake credential
DEFAULT_IAM_DOMAIN = "sim-domain"
DEFAULT_REGION = "cn-north-4"


@dataclass
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port; read the real one from `base_url`
    tasks: int = 500
    fail_rate: float = 0.05
    skip_rate: float = 0.02
    seed: int = 1
    latency_ms: float = 0.0
    error_rate: float = 0.0  # share of /v2 requests answered with a random 5xx
    project_id: str = DEFAULT_PROJECT_ID
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = field(default=DEFAULT_SECRET_KEY, repr=False)
    # A temporary credential (needs its X-Security-Token); set temp_access_key to None to disable it.
    temp_access_key: str | None = DEFAULT_TEMP_ACCESS_KEY
    temp_secret_key: str | None = field(default=DEFAULT_TEMP_SECRET_KEY, repr=False)
    security_token: str | None = field(default=DEFAULT_SECURITY_TOKEN, repr=False)
    iam_user: str = DEFAULT_IAM_USER
    iam_password: str = field(default=DEFAULT_IAM_PASSWORD, repr=False)
    iam_domain: str = DEFAULT_IAM_DOMAIN
    region: str = DEFAULT_REGION  # the project name accepted in an IAM project scope
    token_ttl_seconds: float = 86400.0
    static_tokens: tuple[str, ...] = field(default=(), repr=False)
    scenario: str | Path | None = None
    step_seconds: float | None = None
    # How an unknown task or record id is answered: 400 (the default, as the real API does) or 404.
    not_found_status: int = 400
    # How times are written: "local" ("yyyy-MM-dd HH:mm:ss" in the task's zone, as the API reference says)
    # or "rfc3339" (UTC, as Huawei's Terraform provider reads them from the live cloud); see `wire`.
    time_format: str = "local"
    # How an expired IAM token is refused: APIGW.0307 ("The token must be updated."), or APIGW.0301 whose
    # message says the token expired.
    expired_token_code: str = "APIGW.0307"  # noqa: S105 - an error code, not a secret
    # The simulator's notion of now (token expiry, X-Sdk-Date skew, schedules); tests may pin it.
    clock: Callable[[], datetime] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.tasks < 0:
            raise ValueError("tasks must be >= 0")
        for name in ("fail_rate", "skip_rate", "error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.fail_rate + self.skip_rate > 1.0:
            raise ValueError("fail_rate + skip_rate must not exceed 1")
        if self.latency_ms < 0 or self.token_ttl_seconds < 0:
            raise ValueError("latency_ms and token_ttl_seconds must be >= 0")
        if self.expired_token_code not in ("APIGW.0307", "APIGW.0301"):
            raise ValueError("expired_token_code must be APIGW.0307 or APIGW.0301")
        if self.time_format not in ("local", "rfc3339"):
            raise ValueError("time_format must be local or rfc3339")
        if self.not_found_status not in (400, 404):
            raise ValueError("not_found_status must be 400 or 404")
        if self.step_seconds is not None and self.step_seconds <= 0:
            raise ValueError("step_seconds must be > 0")
