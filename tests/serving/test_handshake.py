"""The TLS handshake deadline (`--handshake-timeout`), against the real server.

A connection that never starts its handshake (5,000 of them once held 330-370 MiB for the
event loop's default minute) is closed once the deadline passes; the API server's handshakes,
done in milliseconds, are untouched.
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.serving.clients import admission_request, connection, exchange, tls_context
from tests.serving.conftest import StartServer

pytestmark = pytest.mark.integration


def test_a_connection_silent_after_connecting_is_closed_at_the_handshake_deadline(
    start_server: StartServer, pki: Path
) -> None:
    server = start_server("--handshake-timeout", "1")
    silent = [
        socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.1.5", 0))
        for _ in range(20)
    ]
    started = time.monotonic()
    try:
        with connection(server.port, tls_context(pki / "ca.crt")) as tls:
            assert exchange(tls, admission_request("beside-silent")).status == 200
        closed_after = []
        for sock in silent:
            sock.settimeout(max(5.0 - (time.monotonic() - started), 0.1))
            try:
                data = sock.recv(1024)
            except (ConnectionError, TimeoutError, ssl.SSLError):
                data = b"timeout"
            closed_after.append(time.monotonic() - started if data == b"" else None)
    finally:
        for sock in silent:
            sock.close()
    print(f"\n20 silent connections, --handshake-timeout 1: closed after {closed_after[-1]} s")
    assert all(seconds is not None and 0.5 <= seconds < 4.0 for seconds in closed_after), (
        closed_after
    )
