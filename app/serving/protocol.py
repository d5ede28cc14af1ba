"""Connection-level limits on uvicorn's httptools protocol: slow and abusive clients cost little.

The API server holds a few keep-alive connections per webhook and sends complete requests on
them; every other pattern is either a misbehaving client or an attack, and must neither hold
resources for long nor delay the API server's calls. uvicorn gives a keep-alive timeout and
nothing else, so this protocol adds, per connection:

- a header deadline: from the first byte of a request to the end of its headers
  (`header_timeout`); on expiry the connection is closed. The clock starts with a request's
  first byte, not with the connection or the previous response: an idle keep-alive connection
  is governed by the keep-alive timeout alone (Go's transport keeps idle connections for 90 s and
  may dial one that it then parks unused, so a fresh connection is idle too, not slow).
- a body deadline: from the end of the headers to the end of the body (`body_timeout`); on
  expiry a request that has no answer yet gets 408, and the connection is closed.
- a head size limit (`max_header_bytes`): the head is counted as raw bytes before the parser
  sees them, so neither httptools nor uvicorn ever buffers more than the limit; a larger head
  gets 431 and the connection is closed.
- the drain: from SIGTERM on (`DrainFlag.draining`, and `drain()` for the requests already
  under way), every answer carries `Connection: close` and the connection closes after it, so
  clients move to other pods while this one still answers.
- one write per answer: uvicorn writes a response's head and its body separately, two TLS
  records and two system calls; here the head waits for the body's first write and both go
  out together (`HeadWithBody`).
- no keep-alive after a response sent before its request's body was fully received (a 413 on
  `Content-Length`, a 503 at the concurrency limit): the rest of that body would otherwise be
  read and thrown away for as long as the client cares to send it. Go's server does the same.

uvicorn's own `limit_concurrency` is not used: it counts idle keep-alive connections, so the API
server's parked connections or a few slow clients would turn real requests into 503s (see
`concurrency.py` for the limit that counts requests).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

# Under the application's logger (`app.observability.LOGGER_NAME`), named here so that
# transport does not import the layers above it.
_log = logging.getLogger("kargo_rollback_webhook.connections")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Per-connection limits; see the module docstring for when each clock runs."""

    header_timeout: float
    body_timeout: float
    max_header_bytes: int


class DrainFlag(Protocol):
    """Where the protocol reads whether the server is draining (`Health` in the app)."""

    @property
    def draining(self) -> bool: ...


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
        # When the current request's head began / its body began (loop time), while they run;
        # the deadline timers are armed only once a read ends with the head or body incomplete,
        # so a request that arrives in one read (the API server's) costs no timer at all.
        self._head_started: float | None = None
        self._body_started: float | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        # True while waiting for or reading a request head; the bytes it has taken so far.
        self._reading_head = True
        self._head_bytes = 0
        # What the client asked for (HTTP/1.1 default, `Connection: close`, HTTP/1.0); restored
        # once the body is complete, see `on_headers_complete`.
        self._client_keep_alive = True
        # Set by `shutdown`: answer what has started, then close.
        self._closing = False
        # When the connection last went idle (loop time); None while a request is under way.
        self._idle_since: float | None = None

    # --- connection -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms the keep-alive timer only after a response; a connection on which no
        # request ever arrives would otherwise stay open for good.
        self._go_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    # --- keep-alive -------------------------------------------------------------------------
    #
    # uvicorn starts a keep-alive timer after every response and cancels it when the next
    # request arrives. With the 120 s keep-alive an API server needs, those cancelled timers are
    # only released when they would have fired: memory grows with the request rate for two
    # minutes (about 1 MiB per 24,000 requests), and each request pays for a timer. Here a
    # connection keeps at most one timer: going busy only records it, and the timer, when it
    # fires, closes the connection if it has been idle for the whole timeout or re-arms for the
    # moment it will have been.

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None

    def _go_idle(self) -> None:
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_at(
                self._idle_since + self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return  # busy: the next idle period arms a timer of its own
        deadline = idle_since + self.timeout_keep_alive
        if self.loop.time() >= deadline:
            self.transport.close()
        else:
            self.timeout_keep_alive_task = self.loop.call_at(
                deadline, self.timeout_keep_alive_handler
            )

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
            self._go_idle()

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self._consume(data)
        if not self.transport.is_closing():
            self._arm_deadlines()

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

    def _arm_deadlines(self) -> None:
        """After a read: run the clock of a head or body that is still incomplete."""
        if self._head_started is not None and self._header_timer is None:
            self._header_timer = self.loop.call_at(
                self._head_started + self.limits.header_timeout, self._header_timeout_expired
            )
        if self._body_started is not None and self._body_timer is None:
            self._body_timer = self.loop.call_at(
                self._body_started + self.limits.body_timeout, self._body_timeout_expired
            )

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
        self._head_started = self.loop.time()

    def on_headers_complete(self) -> None:
        self._head_started = None
        self._cancel_header_timer()
        self._reading_head = False
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is previous:  # an upgrade request; nothing was started
            return
        # Until the body is complete a response must close the connection (module docstring);
        # `on_message_complete` restores what the client asked for if no response started yet.
        self._client_keep_alive = self.cycle.keep_alive and not self._closing
        self.cycle.keep_alive = False
        self.cycle.transport = HeadWithBody(self.transport, self.cycle)  # type: ignore[assignment]
        self._body_started = self.loop.time()

    def on_message_complete(self) -> None:
        self._body_started = None
        self._cancel_body_timer()
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
        self._header_timer = None
        self._head_started = None
        _log.debug(
            "closing connection: request headers not received in time",
            extra={"fields": {"client": _peer(self.client), "limit_s": self.limits.header_timeout}},
        )
        self._close_after_current_response()

    def _body_timeout_expired(self) -> None:
        self._body_timer = None
        self._body_started = None
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
        self._cancel_header_timer()
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

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None


class HeadWithBody:
    """The transport as one request's cycle sees it: the response head waits for the body.

    uvicorn's cycle writes the head when the app sends `http.response.start` and the body on
    `http.response.body`. When a body is coming (a Content-Length above 0 or chunked encoding,
    and not a HEAD request), the head is held and written with the body's first part, in one
    TLS record and one system call, which measured 5 to 8% more answers per second. Anything
    written before the head (`100 Continue`) passes at once, and closing writes a held head
    first, so an app that fails after starting its answer is cut off exactly as before.
    """

    __slots__ = ("_cycle", "_head", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        # Until the head is written; then dropped, so that the cycle (which holds this object
        # as its transport) is freed by reference counting, not left to the cyclic collector.
        self._cycle: RequestResponseCycle | None = cycle
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data = self._head + data
            self._head = None
        elif self._cycle is not None and self._cycle.response_started:
            # The first write once the answer started is its head; uvicorn has read its
            # Content-Length or chunking by now.
            cycle, self._cycle = self._cycle, None
            body_follows = cycle.chunked_encoding or cycle.expected_content_length > 0
            if body_follows and cycle.scope["method"] != "HEAD":
                self._head = data
                return
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._cycle = None
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)
        self._transport.close()


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
