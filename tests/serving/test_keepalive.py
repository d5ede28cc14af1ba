"""Keep-alive as the API server uses it: idle connections are kept, and reused without error.

Go's transport (the API server's) keeps an idle connection for 90 s and reuses it for the next
call; a server that closes it earlier races that reuse, and a call sent as the server closes
fails. The server keeps idle connections for 120 s; uvicorn's default is 5 s.
"""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.serving.clients import (
    admission_request,
    connection,
    exchange,
    is_closed_by_peer,
    seconds_until_closed,
)
from tests.serving.conftest import StartServer
from tests.support.tls import client_context

pytestmark = pytest.mark.integration

IDLE_SECONDS = 10.0


def test_an_idle_keep_alive_connection_is_reused_after_10_seconds(
    start_server: StartServer, pki: Path
) -> None:
    # A header deadline far below the idle time proves the header clock does not run while a
    # connection waits for its next request.
    server = start_server("--header-timeout", "1")
    context = client_context(pki / "ca.crt")
    with (
        connection(server.port, context) as used,
        connection(server.port, context) as fresh,
    ):
        first = exchange(used, admission_request("before-idle"))
        assert first.status == 200
        assert not first.closes
        local_port = used.getsockname()[1]

        time.sleep(IDLE_SECONDS)

        # The same socket object, so necessarily the same TCP connection (no transparent
        # reconnect is possible with a raw socket); its local port confirms it.
        assert used.getsockname()[1] == local_port
        second = exchange(used, admission_request("after-idle"))
        assert second.status == 200
        assert b"after-idle" in second.body
        # A connection that never carried a request is idle too, not a slow client.
        assert exchange(fresh, admission_request("first-after-idle")).status == 200


def test_idle_connections_close_after_the_keep_alive_timeout(
    start_server: StartServer, pki: Path
) -> None:
    server = start_server("--keep-alive-timeout", "1")
    context = client_context(pki / "ca.crt")
    with connection(server.port, context) as used, connection(server.port, context) as fresh:
        assert exchange(used, admission_request("once")).status == 200
        closed_after = {"used": 0.0, "fresh": 0.0}

        def watch(name: str, tls: ssl.SSLSocket) -> None:
            closed_after[name] = seconds_until_closed(tls, limit=5)

        watchers = [
            threading.Thread(target=watch, args=("used", used)),
            threading.Thread(target=watch, args=("fresh", fresh)),
        ]
        for watcher in watchers:
            watcher.start()
        for watcher in watchers:
            watcher.join(10)
    assert 0.5 <= closed_after["used"] < 3.0
    assert closed_after["fresh"] < 3.0


def test_many_requests_on_one_connection_stay_on_it(start_server: StartServer, pki: Path) -> None:
    server = start_server()
    with connection(server.port, client_context(pki / "ca.crt")) as tls:
        for i in range(20):
            response = exchange(tls, admission_request(f"seq-{i}"))
            assert response.status == 200
            assert not response.closes
        assert not is_closed_by_peer(tls, wait=0.05)


def test_a_busy_connection_outlives_the_keep_alive_timeout(
    start_server: StartServer, pki: Path
) -> None:
    """The keep-alive clock measures idle time only: a connection used without pause for three
    timeouts stays open, then closes one timeout after its last answer."""
    server = start_server("--keep-alive-timeout", "1")
    with connection(server.port, client_context(pki / "ca.crt")) as tls:
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 3.0 and count < 10_000:
            response = exchange(tls, admission_request(f"busy-{count}"))
            assert response.status == 200
            assert not response.closes
            count += 1
            time.sleep(0.2)  # idle gaps shorter than the timeout
        assert count >= 10
        assert 0.5 <= seconds_until_closed(tls, limit=5) < 3.0
