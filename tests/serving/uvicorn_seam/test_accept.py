"""TLS from accept (app/serving/uvicorn_seam/accept.py) on both event loops uvicorn may run.

The real server runs under uvloop (tests/serving/test_handshake.py floods it); here a listener
made as `GracefulServer.startup` makes it serves a recording protocol under each loop, so that
CPython's own TLS protocol is exercised too: a connection is announced at accept, before its
handshake; one that leaves during its handshake is forgotten; one that completes it is made, and
its bytes arrive decrypted.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
import uvloop

from app.serving.uvicorn_seam.accept import counted_from_accept
from tests.support.polling import until
from tests.support.tls import client_context


class Recorder(asyncio.Protocol):
    """What the application's protocol is told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.transport: asyncio.Transport | None = None

    def accepted(self, transport: asyncio.Transport) -> None:
        self.events.append("accepted")

    def handshake_ended(self) -> None:
        self.events.append("handshake ended")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.events.append(data.decode())
        assert self.transport is not None
        self.transport.write(b"pong")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")


@pytest.mark.parametrize(
    "new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_a_connection_is_announced_at_accept_and_forgotten_if_its_handshake_fails(
    new_loop: Callable[[], asyncio.AbstractEventLoop], pki: Path
) -> None:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki / "tls.crt", pki / "tls.key")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        protocols: list[Recorder] = []

        def app_protocol() -> Recorder:
            protocols.append(Recorder())
            return protocols[-1]

        factory = counted_from_accept(loop, app_protocol, server_context, 5.0)
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            # Silent, then gone: announced before any handshake, then forgotten.
            _, silent = await asyncio.open_connection("127.0.0.1", port)
            await until(lambda: bool(protocols and protocols[0].events))
            assert protocols[0].events == ["accepted"]
            silent.close()
            await until(lambda: "handshake ended" in protocols[0].events)
            assert protocols[0].events == ["accepted", "handshake ended"]

            # A TLS client: announced, made once its handshake is done, served in clear.
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context(pki / "ca.crt"), server_hostname="localhost"
            )
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"pong"
            events = protocols[1].events
            assert events[:2] == ["accepted", "made"]
            assert "ping" in events
            writer.close()
            await until(lambda: "lost" in events)
        finally:
            server.close()
            await server.wait_closed()

    loop = new_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 10))
    finally:
        loop.close()
