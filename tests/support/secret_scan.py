"""A pytest plugin that fails any test whose logs, captured output or error messages carry a known secret.

What it proves, across the WHOLE test run (registered for every test by tests/conftest.py):
- no structlog event or stdlib log record, as rendered, contains a secret: at session start structlog and
  stdlib logging are configured as the product configures them (`configure_logging`, JSON, redaction on),
  writing to pytest's captured stderr, and every test phase's captured stdout, stderr and log records are
  scanned;
- no stderr of a subprocess that a test captures (`subprocess.run(..., capture_output=True)`, `communicate`)
  contains a secret: those are the daemon's and the CLI's log lines;
- no exception of our error trees (Workspace client, store, config, rules, delivery) is built with a message
  that contains a secret;
- nothing the product posts, edits or answers in Slack (the Slack stand-in's state: messages, ephemeral
  answers, response_url bodies - `/tasks status` included) contains a secret.

The known secrets are the simulator's credentials (SK, temporary SK, security token, IAM password), the IAM
tokens it issues (`MIIsim...`), the static tokens the tests use, and anything shaped like a Slack token
(`xoxb-`, `xoxp-`, `xapp-`) or a signing secret the tests use. A leak turns the test's report into a failure
that names the secret by what it is, never by its value.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from monitor.devtools.sim import (
    DEFAULT_IAM_PASSWORD,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_SECRET_KEY,
)
from monitor.devtools.slackstub import DEFAULT_TOKEN

__all__ = ["KNOWN_SECRETS", "SECRET_PATTERNS", "SecretScan", "configure_run_logging", "find_secrets"]

#: Exact values, each with what it is (the name is what a failure shows).
KNOWN_SECRETS: dict[str, str] = {
    DEFAULT_SECRET_KEY: "the simulator's secret key (SK)",
    DEFAULT_TEMP_SECRET_KEY: "the simulator's temporary secret key",
    DEFAULT_SECURITY_TOKEN: "the simulator's security token",
    DEFAULT_IAM_PASSWORD: "the simulator's IAM password",
    DEFAULT_TOKEN: "the Slack stub's bot token",
    "static-token-for-tests": "a static IAM token of the tests",
    "static-token-value": "a static IAM token of the tests",
    "tls-test-token-0123456789": "a static IAM token of the TLS tests",
    "stub-signing-secret-0123456789abcdef": "a Slack signing secret of the tests",
}

#: Secrets whose exact value is not known in advance.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "an IAM token issued by the simulator": re.compile(r"MIIsim[A-Za-z0-9_-]{16,}"),
    "a Slack token (xoxb-/xoxp-/xapp-)": re.compile(r"\b(?:xox[abpr]|xapp)-[A-Za-z0-9-]{10,}"),
}


def find_secrets(text: str) -> list[str]:
    """What kinds of secret `text` contains (empty: none), by name, in a stable order."""
    found = [name for value, name in KNOWN_SECRETS.items() if value in text]
    found += [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    return sorted(set(found))


def configure_run_logging() -> None:
    """The product's own logging (JSON, redaction) on pytest's captured stderr: what tests log is scanned as
    production would write it. Tests that configure logging their own way call this to put it back."""
    from monitor.logs import configure_logging

    configure_logging("debug", json=True, stream=sys.stderr)


def _error_classes() -> list[type[BaseException]]:
    """The roots of our error trees: a secret in any of their messages is one step from a log line."""
    from monitor.config import ConfigError
    from monitor.notify.dispatch import DeliveryError
    from monitor.rules.load import RuleFileError
    from monitor.runtime import LoadError
    from monitor.store.errors import StoreError
    from monitor.workspace.errors import WorkspaceError
    from monitor.yamlfile import YamlError

    return [WorkspaceError, StoreError, ConfigError, RuleFileError, YamlError, DeliveryError, LoadError]


@dataclass
class SecretScan:
    """The plugin: collects what a test phase let out, and fails the phase's report when a secret is in it."""

    #: Texts seen during the current phase that pytest does not capture itself (subprocess stderr, errors).
    pending: list[tuple[str, str]] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def note(self, where: str, text: object) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if isinstance(text, str) and text:
            self.pending.append((where, text))

    # -- installing ------------------------------------------------------------------------------------

    def install(self) -> None:
        configure_run_logging()
        self._wrap_communicate()
        for cls in _error_classes():
            self._wrap_init(cls)
        self._wrap_slack_stand_in()

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap_communicate(self) -> None:
        original = subprocess.Popen.communicate
        scan = self

        def communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            out, err = original(self, *args, **kwargs)
            scan.note(f"stderr of subprocess {self.args!r}"[:200], err)
            return out, err

        subprocess.Popen.communicate = communicate  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(subprocess.Popen, "communicate", original))

    def _wrap_slack_stand_in(self) -> None:
        """Everything the product posts, edits or answers in Slack (alerts, /tasks answers such as `status`)
        reaches the stand-in through these; a secret there is a secret shown to a whole channel."""
        from monitor.devtools.slackstub.state import StubState

        scan = self
        for name in ("post_message", "update_message", "post_ephemeral", "record_response"):
            original = getattr(StubState, name)

            def method(
                self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any
            ) -> Any:
                scan.note(f"Slack {_name}", repr((args, kwargs)))
                return _original(self, *args, **kwargs)

            setattr(StubState, name, method)
            self._undo.append(lambda name=name, original=original: setattr(StubState, name, original))

    def _wrap_init(self, cls: type[BaseException]) -> None:
        original = cls.__init__
        scan = self

        def init(self: BaseException, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            try:
                text = str(self)
            except Exception:  # a subclass still setting its attributes up; its own init is scanned later
                return
            scan.note(f"message of a {type(self).__name__}", text)

        cls.__init__ = init  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(cls, "__init__", original))

    # -- hooks -----------------------------------------------------------------------------------------

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # A test before this one may have pointed logging elsewhere (a StringIO of its own): put it back.
        configure_run_logging()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
        texts = [(title, content) for title, content in report.sections if title.endswith(f" {call.when}")]
        texts += self.pending
        self.pending = []
        problems = [f"{name} in {where}" for where, content in texts for name in find_secrets(content)]
        if not problems:
            return
        problems = list(dict.fromkeys(problems))
        self.leaks.extend(f"{item.nodeid} ({call.when}): {problem}" for problem in problems)
        report.outcome = "failed"
        report.longrepr = "secret leaked:\n  " + "\n  ".join(problems)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.leaks:
            terminalreporter.section("secrets leaked", sep="=", red=True)
            for leak in self.leaks:
                terminalreporter.line(leak)
