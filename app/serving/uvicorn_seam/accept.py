"""TLS from accept: a connection still in its handshake is counted against the connection limits.

Given `ssl=`, the event loop accepts a connection, builds the application's protocol, wraps it in
its TLS protocol (`SSLProtocol`) and calls the application's `connection_made` only once the
handshake is done (CPython: `asyncio/selector_events.py`, `_accept_connection2` and
`_make_ssl_transport`; uvloop: `uvloop/handles/streamserver.pyx`, `UVStreamServer._on_listen`).
Until then the connection is nobody's: 5,000 silent connections from one address were held until
their handshake deadline, 236-250 MiB of RSS, while the connection table saw none of them.

So the listener is created without `ssl=`, and each accepted connection gets `_Accept`, a
protocol that does at `connection_made` what the loop would have done at accept: it builds the
loop's own TLS protocol around the application's protocol (the same class, with the same
arguments as the loop: server side, the handshake deadline, the default shutdown deadline),
hands the transport to it (`set_protocol`, as the loop's `start_tls` does) and starts it. Then it
tells the application's protocol (`Accepting.accepted`), which enters the connection in the
table, where it is the cheapest to close (`connections.RANK_HANDSHAKE`). When the handshake
ends without `connection_made` (it failed, timed out or the peer left), `handshake_ended` takes
it out again: the TLS protocol never tells the application of a connection lost before its
handshake.

What differs from the loop's own path: the loop's accept task awaits the handshake and, in debug
mode only, logs its failure; here a failed handshake aborts the transport, as uvloop's
`__on_ssl_connected` does, and nothing is logged. The TLS protocol's class is the loop's own
(uvloop's compiled one under uvloop, which uvicorn picks when it is installed), so reads and
writes after the handshake take the same path as with `ssl=`.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import Any, Protocol, cast

_UVLOOP: tuple[type, Callable[..., asyncio.BaseProtocol]] | None
try:
    import uvloop.loop
except ImportError:  # pragma: no cover - uvicorn[standard] installs it where it builds
    _UVLOOP = None
else:
    # uvloop's event loop and its compiled TLS protocol (uvloop/sslproto.pyx).
    _UVLOOP = (uvloop.loop.Loop, uvloop.loop.SSLProtocol)  # type: ignore[attr-defined]


class Accepting(Protocol):
    """The application's protocol as `_Accept` sees it (`GuardedHttpToolsProtocol`)."""

    def accepted(self, transport: asyncio.Transport) -> None:
        """The connection was accepted; its TLS handshake starts (may close it at once)."""
        ...

    def handshake_ended(self) -> None:
        """The handshake is over: a no-op once `connection_made` ran, else forget the connection."""
        ...


def tls_protocol_class(loop: asyncio.AbstractEventLoop) -> Callable[..., asyncio.BaseProtocol]:
    """The TLS protocol class `loop` would wrap an accepted connection in."""
    if _UVLOOP is not None and isinstance(loop, _UVLOOP[0]):
        return _UVLOOP[1]
    return sslproto.SSLProtocol


def counted_from_accept(
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], Any],
    context: ssl.SSLContext,
    handshake_timeout: float | None,
) -> Callable[[], asyncio.Protocol]:
    """The protocol factory to create the listener with, without `ssl=`."""
    tls_class = tls_protocol_class(loop)

    def accept() -> asyncio.Protocol:
        return _Accept(loop, protocol_factory(), tls_class, context, handshake_timeout)

    return accept


class _Accept(asyncio.Protocol):
    """The protocol of an accepted connection for as long as `connection_made` runs."""

    __slots__ = ("_app", "_context", "_handshake_timeout", "_loop", "_tls_class")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app: Accepting,
        tls_class: Callable[..., asyncio.BaseProtocol],
        context: ssl.SSLContext,
        handshake_timeout: float | None,
    ) -> None:
        self._loop = loop
        self._app = app
        self._tls_class = tls_class
        self._context = context
        self._handshake_timeout = handshake_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)
        app = self._app
        waiter = self._loop.create_future()
        tls = self._tls_class(
            self._loop,
            app,
            self._context,
            waiter,
            server_side=True,
            server_hostname=None,
            ssl_handshake_timeout=self._handshake_timeout,
        )
        waiter.add_done_callback(functools.partial(_handshake_ended, app, raw))
        raw.set_protocol(tls)
        tls.connection_made(raw)
        app.accepted(raw)


def _handshake_ended(app: Accepting, raw: asyncio.Transport, waiter: asyncio.Future[None]) -> None:
    failed = waiter.cancelled() or waiter.exception() is not None  # retrieved: never logged
    app.handshake_ended()
    if failed and not raw.is_closing():
        raw.abort()
