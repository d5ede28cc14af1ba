"""The one module that touches uvicorn's and httptools' internals.

uvicorn gives a keep-alive timeout and nothing else a webhook needs from its connections, so
its `HttpToolsProtocol` and `Server` are subclassed here, and every private method or attribute
used is listed in `UVICORN_CONTRACT`; tests/serving/test_uvicorn_contract.py fails naming the
symbol when a uvicorn release changes one. The jobs themselves are elsewhere and know nothing
of uvicorn: `deadlines` (header and body clocks), `keepalive` (one timer per connection),
`single_write` (a response's head waits for its body).

The connection protocol, per connection:

- a header deadline and a body deadline (`app.serving.deadlines`); on a body deadline, a request
  that has no answer yet gets 408, and the connection is closed.
- a head size limit (`max_header_bytes`): the head is counted as raw bytes before the parser
  sees them, so neither httptools nor uvicorn ever buffers more than the limit; a larger head
  gets 431 and the connection is closed.
- the drain: from SIGTERM on (`DrainFlag.draining`, and `drain()` for the requests already
  under way), every answer carries `Connection: close` (uvicorn's `RequestResponseCycle.send`
  adds it when `keep_alive` is False) and the connection closes after it, so clients move to
  other pods while this one still answers.
- no keep-alive after a response sent before its request's body was fully received (a 413 on
  `Content-Length`, a 503 at the concurrency limit): the rest of that body would otherwise be
  read and thrown away for as long as the client cares to send it. Go's server does the same.

uvicorn's own `limit_concurrency` is not used: it counts idle keep-alive connections, so the API
server's parked connections or a few slow clients would turn real requests into 503s (see
`concurrency.py` for the limit that counts requests).

The server (`GracefulServer`) adds the drain and a bounded shutdown:

The sequence on SIGTERM (or SIGINT):

1. at once: `on_drain()` makes `/readyz` fail, and answers start carrying `Connection: close`
   (the protocol reads the flag for requests that complete from now on, and each connection's
   `drain()` runs for the requests already under way);
2. for `drain_seconds`: everything is still served, new connections included, while the
   endpoints controller takes the pod out of the Service and the API servers, whose connections
   close after each answer, reconnect to other pods (the chart's preStop sleep, which delays
   SIGTERM itself, serves the same purpose for clients that never reach this server's code);
3. then the listener closes, idle keep-alive connections are closed, requests under way
   (including those whose headers or body are still arriving) are answered, each on a
   connection that then closes, for up to `shutdown_timeout`; what is left is cancelled, early
   enough that the process is gone within `drain_seconds + shutdown_timeout` of the signal;
4. the process exits 0.

A second signal at any point ends it at once: in-flight requests are cancelled and the process
exits with 128 + the signal number, as a shell reports a process killed by that signal.

uvicorn's `Server` is subclassed at its documented-by-code seams: `handle_exit` (installed with
`signal.signal`, so it runs on the main thread between bytecodes; it only sets attributes),
`on_tick` (the main loop's 0.1 s heartbeat, where the drain deadline is checked), `startup` and
`shutdown`. uvicorn itself would stop at the first signal and re-raise it after shutdown (making
a clean exit look like a kill); neither happens here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any, ClassVar, Final, Protocol

import httptools
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from app.serving.deadlines import ConnectionLimits, RequestClock
from app.serving.keepalive import IdleTimer
from app.serving.single_write import BodyFollows, HeadWithBody

# Under the application's logger (`app.observability.LOGGER_NAME`), named here so that
# transport does not import the layers above it.
_log = logging.getLogger("kargo_rollback_webhook.connections")
_lifecycle_log = logging.getLogger("kargo_rollback_webhook.lifecycle")

# Every uvicorn name this module relies on beyond uvicorn's documented `Config` and `Server.run`:
# methods overridden or called, attributes read or written. (class, name); checked by
# tests/serving/test_uvicorn_contract.py against the installed uvicorn.
UVICORN_CONTRACT: Final = (
    ("HttpToolsProtocol", "connection_made"),
    ("HttpToolsProtocol", "connection_lost"),
    ("HttpToolsProtocol", "data_received"),
    ("HttpToolsProtocol", "on_message_begin"),
    ("HttpToolsProtocol", "on_headers_complete"),
    ("HttpToolsProtocol", "on_message_complete"),
    ("HttpToolsProtocol", "on_response_complete"),
    ("HttpToolsProtocol", "_unset_keepalive_if_required"),
    ("HttpToolsProtocol", "_start_asgi_task"),
    ("HttpToolsProtocol", "send_400_response"),
    ("HttpToolsProtocol", "shutdown"),
    ("HttpToolsProtocol", "parser"),
    ("HttpToolsProtocol", "cycle"),
    ("HttpToolsProtocol", "pipeline"),
    ("HttpToolsProtocol", "flow"),
    ("HttpToolsProtocol", "transport"),
    ("HttpToolsProtocol", "loop"),
    ("HttpToolsProtocol", "logger"),
    ("HttpToolsProtocol", "client"),
    ("HttpToolsProtocol", "server_state"),
    ("HttpToolsProtocol", "timeout_keep_alive"),
    ("HttpToolsProtocol", "timeout_keep_alive_task"),
    ("RequestResponseCycle", "keep_alive"),
    ("RequestResponseCycle", "response_started"),
    ("RequestResponseCycle", "response_complete"),
    ("RequestResponseCycle", "disconnected"),
    ("RequestResponseCycle", "message_event"),
    ("RequestResponseCycle", "transport"),
    ("RequestResponseCycle", "chunked_encoding"),
    ("RequestResponseCycle", "expected_content_length"),
    ("RequestResponseCycle", "scope"),
    ("Server", "handle_exit"),
    ("Server", "on_tick"),
    ("Server", "startup"),
    ("Server", "shutdown"),
    ("Server", "server_state"),
    ("Server", "servers"),
    ("Server", "lifespan"),
    ("Server", "started"),
    ("Server", "should_exit"),
    ("Server", "force_exit"),
    ("ServerState", "connections"),
    ("ServerState", "tasks"),
    ("ServerState", "total_requests"),
    ("ServerState", "default_headers"),
    ("module httptools_impl", "STATUS_LINE"),
)


class DrainFlag(Protocol):
    """Where the protocol reads whether the server is draining (`Health` in the app)."""

    @property
    def draining(self) -> bool: ...


def body_follows_of(cycle: RequestResponseCycle) -> BodyFollows:
    """For `HeadWithBody`: whether the answer under way has a body after its head. uvicorn has
    read its Content-Length or chunking by the time the head is written."""

    def body_follows() -> bool | None:
        if not cycle.response_started:
            return None
        has_body = bool(cycle.chunked_encoding) or cycle.expected_content_length > 0
        return has_body and cycle.scope["method"] != "HEAD"

    return body_follows


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines and a head size limit.

    Use `protocol_class(limits)` to get a subclass bound to settings; uvicorn builds protocol
    instances itself and passes only its own config.
    """

    limits: ClassVar[ConnectionLimits]
    drain_flag: ClassVar[DrainFlag]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._clock = RequestClock(
            self.loop,
            self.limits,
            on_head_late=self._header_timeout_expired,
            on_body_late=self._body_timeout_expired,
        )
        self._idle = IdleTimer(self.loop, self.timeout_keep_alive, self._idle_expired)
        # True while waiting for or reading a request head; the bytes it has taken so far.
        self._reading_head = True
        self._head_bytes = 0
        # What the client asked for (HTTP/1.1 default, `Connection: close`, HTTP/1.0); restored
        # once the body is complete, see `on_headers_complete`.
        self._client_keep_alive = True
        # Set by `shutdown`: answer what has started, then close.
        self._closing = False

    # --- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms the keep-alive timer only after a response; a connection on which no
        # request ever arrives would otherwise stay open for good.
        self._idle.idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clock.cancel()
        self._idle.cancel()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    # --- keep-alive (app.serving.keepalive: one timer per connection) -----------------------

    def _unset_keepalive_if_required(self) -> None:
        self._idle.busy()

    def _idle_expired(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        # uvicorn's own, but for the keep-alive timer (above).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle.idle()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self._consume(data)
        if not self.transport.is_closing():
            self._clock.after_read()

    def _consume(self, data: bytes) -> None:
        limit = self.limits.max_header_bytes
        while data:
            if not self._reading_head:
                # A body, and possibly the start of a pipelined request's head after it: that
                # head is counted from the next read on, so one read (at most 256 KiB from the
                # TLS transport) may escape the count; the bound stays finite.
                self._feed(data)
                return
            room = limit - self._head_bytes
            if len(data) <= room:  # nearly always: no copy
                piece, data = data, b""
            else:
                piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            if not self._feed(piece):
                return
            if self._reading_head and self._head_bytes >= limit:
                # The head is not complete after `limit` bytes, so it is longer than that.
                self._refuse_head()
                return

    def _feed(self, data: bytes) -> bool:
        """Parse `data` as uvicorn does; False when the connection must not be read further."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return False
        except httptools.HttpParserUpgrade:
            # An `Upgrade:` request (WebSocket, h2c): nothing here upgrades (`ws="none"`), so it
            # is answered as plain HTTP/1.1; the parser stops at its head, so the connection
            # cannot carry another request and closes after the answer.
            self._client_keep_alive = False
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False
            else:
                self.transport.close()
            return False
        return not self.transport.is_closing()

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._clock.head_begun()

    def on_headers_complete(self) -> None:
        self._clock.stop_head_clock()
        self._reading_head = False
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is previous:  # an upgrade request; nothing was started
            return
        # Until the body is complete a response must close the connection (module docstring);
        # `on_message_complete` restores what the client asked for if no response started yet.
        self._client_keep_alive = self.cycle.keep_alive and not self._closing
        self.cycle.keep_alive = False
        self.cycle.transport = HeadWithBody(  # type: ignore[assignment]
            self.transport, body_follows_of(self.cycle)
        )
        self._clock.body_begun()

    def on_message_complete(self) -> None:
        self._clock.body_complete()
        self._reading_head = True
        self._head_bytes = 0
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and not self._closing:
            cycle.keep_alive = self._client_keep_alive and not self.drain_flag.draining
        super().on_message_complete()

    # --- drain and shutdown -----------------------------------------------------------------

    def drain(self) -> None:
        """Called by the server when the drain starts: the answer under way closes the connection.

        Requests that complete later see `drain_flag` in `on_message_complete`. An answer whose
        head is already written keeps its connection; the next request on it closes it.
        """
        self._client_keep_alive = False
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.keep_alive = False

    def shutdown(self) -> None:
        """Called by the server after the drain: close when idle, else answer first, then close.

        A request whose headers are still arriving started before the shutdown, so it is
        answered like one already running (the header deadline still bounds it).
        """
        self._closing = True
        request_begun = self._reading_head and self._head_bytes > 0
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete
        if cycle is not None and answering:
            cycle.keep_alive = False
        if not (request_begun or answering):
            self.transport.close()

    # --- limits -----------------------------------------------------------------------------

    def _header_timeout_expired(self) -> None:
        _log.debug(
            "closing connection: request headers not received in time",
            extra={"fields": {"client": _peer(self.client), "limit_s": self.limits.header_timeout}},
        )
        self._close_after_current_response()

    def _body_timeout_expired(self) -> None:
        _log.debug(
            "closing connection: request body not received in time",
            extra={"fields": {"client": _peer(self.client), "limit_s": self.limits.body_timeout}},
        )
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The application waits for the rest of the body; it gets a disconnect instead and
            # whatever it sends from now on is dropped (uvicorn ignores sends once disconnected).
            cycle.disconnected = True
            cycle.message_event.set()
            self._send_error(408, "request body not received in time")
        else:
            self.transport.close()

    def _refuse_head(self) -> None:
        _log.debug(
            "closing connection: request head too large",
            extra={"fields": {"client": _peer(self.client), "limit": self.limits.max_header_bytes}},
        )
        self._clock.stop_head_clock()
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's head: the answer to the one before is still being written.
            self._close_after_current_response()
        else:
            self._send_error(431, "request head too large")

    def _close_after_current_response(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.disconnected:
            # Pipelining: let the answer to the previous request finish, read nothing more.
            cycle.keep_alive = False
            self.flow.pause_reading()
        else:
            self.transport.close()

    def _send_error(self, status: int, message: str) -> None:
        body = message.encode("ascii")
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def protocol_class(
    limits: ConnectionLimits, drain_flag: DrainFlag
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class to pass as `uvicorn.Config(http=...)`, bound to `limits` and to
    where it reads whether the server drains."""
    bound_limits, bound_flag = limits, drain_flag

    class BoundGuardedHttpToolsProtocol(GuardedHttpToolsProtocol):
        limits = bound_limits
        drain_flag = bound_flag

    return BoundGuardedHttpToolsProtocol


def _peer(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None


# --- the server --------------------------------------------------------------------------------

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

# How often the shutdown checks whether the last connection closed.
_POLL_SECONDS = 0.05
# Kept back from the shutdown timeout for what follows it (cancelling what is left, the
# application's shutdown, the interpreter's exit, ~0.1 s), so that the process is gone within
# drain + timeout of the signal, the figure the chart's terminationGracePeriodSeconds adds up.
_EXIT_RESERVE_SECONDS = 0.25


class GracefulServer(uvicorn.Server):
    """uvicorn's server with a drain before shutdown, a bounded shutdown and background tasks."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain_seconds: float,
        shutdown_timeout: float,
        on_drain: Callable[[], None],
        background: Sequence[BackgroundTask] = (),
    ) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._shutdown_timeout = shutdown_timeout
        self._on_drain = on_drain
        self._background = tuple(background)
        self._background_stop = asyncio.Event()
        self._background_tasks: list[asyncio.Task[None]] = []
        self._drain_signal: int | None = None
        self._drain_started: float | None = None
        self._drain_logged = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.forced_by: int | None = None
        """The signal that ended the process at once, if one did."""

    # --- signals ----------------------------------------------------------------------------

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_started is None and not self.should_exit:
            self._drain_signal = sig
            self._drain_started = time.monotonic()
            self._on_drain()
            if self._loop is not None:
                # A signal handler runs between any two bytecodes: the connections are changed
                # from the event loop instead, before the next read is handled.
                self._loop.call_soon_threadsafe(self._drain_connections)
            return
        self.forced_by = sig
        self.force_exit = True
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_started is not None and not self.should_exit:
            if not self._drain_logged:
                self._drain_logged = True
                _lifecycle_log.info(
                    "draining: readiness fails, answers close their connections",
                    extra={
                        "fields": {
                            "signal": _signal_name(self._drain_signal),
                            "drain_seconds": self._drain_seconds,
                            "shutdown_timeout_seconds": self._shutdown_timeout,
                        }
                    },
                )
            if time.monotonic() - self._drain_started >= self._drain_seconds:
                self.should_exit = True
        return await super().on_tick(counter)

    # --- start and stop ---------------------------------------------------------------------

    def _drain_connections(self) -> None:
        for connection in list(self.server_state.connections):
            drain = getattr(connection, "drain", None)
            if drain is not None:
                drain()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)
        if self.started:
            self._background_tasks = [
                asyncio.create_task(task(self._background_stop)) for task in self._background
            ]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        connections = self.server_state.connections
        _lifecycle_log.info(
            "shutting down: listener closed, finishing requests in flight",
            extra={
                "fields": {
                    "connections": len(connections),
                    "requests": len(self.server_state.tasks),
                    "timeout_seconds": self._shutdown_timeout,
                    "forced": self.force_exit,
                }
            },
        )
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        # Idle connections close now; busy ones once their answer is sent.
        for connection in list(connections):
            connection.shutdown()

        try:
            await asyncio.wait_for(self._quiesce(), timeout=self._finish_budget())
        except TimeoutError:
            _lifecycle_log.error(
                "shutdown timeout: cancelling requests still in flight",
                extra={"fields": {"requests": len(self.server_state.tasks)}},
            )
            for task in self.server_state.tasks:
                task.cancel(msg="shutdown timeout exceeded")

        self._background_stop.set()
        for task in self._background_tasks:
            if self.force_exit:
                task.cancel()
        await asyncio.gather(*self._background_tasks, return_exceptions=True)

        if not self.force_exit:
            await self.lifespan.shutdown()

    def _finish_budget(self) -> float:
        """Seconds left for requests in flight: counted from the signal, not from this moment
        (the drain ends on a 0.1 s tick), less what exiting takes."""
        reserve = min(_EXIT_RESERVE_SECONDS, self._shutdown_timeout / 4)
        if self._drain_started is None:
            return max(self._shutdown_timeout - reserve, 0.0)
        deadline = self._drain_started + self._drain_seconds + self._shutdown_timeout - reserve
        return max(deadline - time.monotonic(), 0.0)

    async def _quiesce(self) -> None:
        """Return once no request is running or arriving (or on a forced exit).

        A connection already closed from this side may still be listed while its TLS
        close_notify exchange finishes (a client that never answers it holds it for up to 30 s);
        its answer was sent, so it is not waited for.
        """
        state = self.server_state
        while not self.force_exit and (
            state.tasks or any(_open(connection) for connection in state.connections)
        ):
            await asyncio.sleep(_POLL_SECONDS)


def _open(connection: object) -> bool:
    transport = getattr(connection, "transport", None)
    return transport is not None and not transport.is_closing()


def _signal_name(sig: int | None) -> str | None:
    if sig is None:
        return None
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
