"""The prefetched TLS context (monitor.workspace.tls): the verifying context `ssl.create_default_context()`
makes, only made on a thread while a command starts up, and handed out once."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.workspace import tls
from monitor.workspace.factory import tls_context


@pytest.fixture(autouse=True)
def _nothing_left_prefetched() -> Iterator[None]:
    yield
    tls.default_context()  # takes (and joins) whatever a test left waiting


def test_the_prefetched_context_verifies_with_the_systems_cas() -> None:
    tls.prefetch_default_context()
    context = tls.default_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    system = ssl.create_default_context().cert_store_stats()
    assert context.cert_store_stats() == system


def test_a_prefetched_context_is_handed_out_once() -> None:
    """Callers add their own CA bundle to the context: two clients must never share one by accident."""
    tls.prefetch_default_context()
    first, second = tls.default_context(), tls.default_context()
    assert first is not second


def test_a_bundle_added_to_the_prefetched_context_widens_that_one_only(tmp_path: Path) -> None:
    """`workspace.ca_bundle` on top of the prefetched system CAs, as without the prefetch."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=a proxy's CA"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    tls.prefetch_default_context()
    assert tls_context(str(cert)).cert_store_stats()["x509_ca"] == system + 1
    assert tls_context(None).cert_store_stats()["x509_ca"] == system


def test_what_making_it_raised_is_raised_to_the_taker(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> ssl.SSLContext:
        raise ssl.SSLError("no CA store")

    monkeypatch.setattr(ssl, "create_default_context", broken)
    tls.prefetch_default_context()
    with pytest.raises(ssl.SSLError, match="no CA store"):
        tls.default_context()
