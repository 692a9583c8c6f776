"""systemd's notify protocol (sd_notify(3)): READY, RELOADING, STATUS, WATCHDOG and STOPPING datagrams.

The protocol is one datagram of `KEY=value` lines to the unix socket named by `$NOTIFY_SOCKET` (a leading
`@` means the abstract namespace). Outside systemd the variable is unset and every call is a quiet no-op.
The maintained Python packages for this either need libsystemd (systemd-python) or are long unmaintained,
and the protocol is these few lines.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

__all__ = ["SystemdNotifier"]

log = structlog.get_logger(__name__)


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        if address and address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address
        self._watchdog_usec = self._watchdog_from(env)

    @staticmethod
    def _watchdog_from(env: Mapping[str, str]) -> int | None:
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            value = int(usec)
        except ValueError:
            return None
        return value if value > 0 else None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_period(self) -> float | None:
        """How often to ping: half of WatchdogSec, as sd_watchdog_enabled(3) advises; None when off."""
        return self._watchdog_usec / 2_000_000 if self._watchdog_usec else None

    def notify(self, **fields: str) -> bool:
        """Send the fields (READY="1", STATUS=...); False when not under systemd or the send failed."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(message)
        except OSError as exc:
            log.warning("systemd.notify_failed", error=str(exc))
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify(READY="1", STATUS=status)

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG="1")

    def reloading(self) -> bool:
        """RELOADING=1 with the CLOCK_MONOTONIC time in µs, as sd_notify(3) asks (systemd >= 253 checks it;
        older ones ignore it): `systemctl status` shows the unit reloading until the next READY=1."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING="1", MONOTONIC_USEC=str(usec), STATUS="reloading config and rules")

    def stopping(self) -> bool:
        return self.notify(STOPPING="1", STATUS="stopping")
