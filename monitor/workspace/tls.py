"""The system's CA certificates, loaded on a thread of their own while a command is still starting up.

A verifying TLS context is `ssl.create_default_context()`, and most of what that costs is OpenSSL reading the
system's CA bundle: OpenSSL 3.0 decodes every certificate (~140 on Debian 12) when the context is made, https
endpoint or not (bench/findings.md, start-up). Python releases the GIL while OpenSSL reads them, so a command
that will build a Workspace client calls `prefetch_default_context()` first thing, and the certificates load
on another core while the command imports its modules; `default_context()` then takes that context instead of
making one. It is the same context with the same certificates, only made earlier: what is verified, and how,
does not change (tests/security/test_tls.py).

Importing this module costs nothing new: `ssl` and `threading` are loaded by asyncio anyway.
"""

from __future__ import annotations

import ssl
import threading

__all__ = ["default_context", "prefetch_default_context"]


class _Prefetch(threading.Thread):
    """Makes one default context; `take()` waits for it (or re-raises what making it raised)."""

    def __init__(self) -> None:
        # Not a daemon: a command that fails before it needs the context waits for the thread at exit
        # rather than leave it inside OpenSSL while the interpreter shuts down.
        super().__init__(name="tls-prefetch", daemon=False)
        self._context: ssl.SSLContext | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._context = ssl.create_default_context()
        except BaseException as exc:  # handed to the caller of take(), as if it had made the context
            self._error = exc

    def take(self) -> ssl.SSLContext:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._context is not None
        return self._context


_lock = threading.Lock()
_prefetched: _Prefetch | None = None


def prefetch_default_context() -> None:
    """Start making `ssl.create_default_context()` on a thread, for the next `default_context()` to take.
    Does nothing when one is already waiting."""
    global _prefetched
    with _lock:
        if _prefetched is None:
            _prefetched = _Prefetch()
            _prefetched.start()


def default_context() -> ssl.SSLContext:
    """`ssl.create_default_context()`: the prefetched one if there is one, else a new one. Each context is
    handed out once, since a caller may add certificates of its own to it (`workspace.ca_bundle`)."""
    global _prefetched
    with _lock:
        prefetched, _prefetched = _prefetched, None
    if prefetched is not None:
        return prefetched.take()
    return ssl.create_default_context()
