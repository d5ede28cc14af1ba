"""Real TLS servers and clients for handshake tests.

The servers run the code paths a uvicorn deployment runs: asyncio's SSL transport (an
`SSLObject` over memory BIOs), uvloop's, and for contrast blocking `SSLSocket`s. Each echoes
lines, so a test can prove a connection still works after the certificate changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import uvloop
from cryptography import x509

from tests.support.tls import client_context

ServerKind = Literal["asyncio", "uvloop", "threads"]
SERVER_KINDS: tuple[ServerKind, ...] = ("asyncio", "uvloop", "threads")

# Generous for a loopback handshake on a loaded CI machine; a hang fails instead of blocking.
TIMEOUT = 10.0


@dataclass(frozen=True)
class Peer:
    """What a client saw of the server on one connection."""

    serial_number: int
    alpn: str | None
    version: str | None


@contextlib.contextmanager
def echo_server(context: ssl.SSLContext, kind: ServerKind = "asyncio") -> Iterator[int]:
    """Serve TLS with `context` on 127.0.0.1 in a background thread; yields the port."""
    if kind == "threads":
        with _threaded_echo_server(context) as port:
            yield port
    else:
        factory = asyncio.new_event_loop if kind == "asyncio" else uvloop.new_event_loop
        with _asyncio_echo_server(context, factory) as port:
            yield port


@contextlib.contextmanager
def _asyncio_echo_server(
    context: ssl.SSLContext, loop_factory: Callable[[], asyncio.AbstractEventLoop]
) -> Iterator[int]:
    loop = loop_factory()
    ready = threading.Event()
    port: list[int] = []
    writers: set[asyncio.StreamWriter] = set()
    stop = asyncio.Event()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writers.discard(writer)
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=context)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        await stop.wait()
        server.close()
        for writer in list(writers):
            writer.close()
        await server.wait_closed()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT), "server did not start"
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(TIMEOUT)
        loop.close()


@contextlib.contextmanager
def _threaded_echo_server(context: ssl.SSLContext) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve_connection(conn: socket.socket) -> None:
        conn.settimeout(TIMEOUT)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                stream = tls.makefile("rwb")
                while line := stream.readline():
                    stream.write(line)
                    stream.flush()
        except (OSError, ssl.SSLError):
            pass  # handshakes the test expects to fail end here

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(TIMEOUT)
        listener.close()


@contextlib.contextmanager
def connect(
    port: int, context: ssl.SSLContext | None = None, *, server_hostname: str | None = None
) -> Iterator[ssl.SSLSocket]:
    """An established TLS connection (handshake done) to the server on `port`."""
    context = context or client_context()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        yield tls


def echo(connection: ssl.SSLSocket, payload: bytes = b"ping\n") -> None:
    """One round trip; raises ConnectionError when the server closed instead of answering.

    With TLS 1.3 a client finishes its handshake before the server has checked the client's
    certificate, so a refusal of that certificate only shows on the first read.
    """
    connection.sendall(payload)
    received = b""
    while not received.endswith(b"\n"):
        chunk = connection.recv(1024)
        if not chunk:
            raise ConnectionError(f"server closed the connection after {received!r}")
        received += chunk
    if received != payload:
        raise ConnectionError(f"server answered {received!r} to {payload!r}")


def peer(connection: ssl.SSLSocket) -> Peer:
    der = connection.getpeercert(binary_form=True)
    assert der is not None
    return Peer(
        serial_number=x509.load_der_x509_certificate(der).serial_number,
        alpn=connection.selected_alpn_protocol(),
        version=connection.version(),
    )


def exchange(
    port: int, context: ssl.SSLContext | None = None, *, server_hostname: str | None = None
) -> Peer:
    """Connect, do one echo round trip, and say what the server presented."""
    with connect(port, context, server_hostname=server_hostname) as connection:
        echo(connection)
        return peer(connection)


def serving_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A plain server context, for testing generated files without the reloader."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
