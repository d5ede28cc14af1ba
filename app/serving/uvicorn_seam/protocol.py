"""The one module that touches uvicorn's and httptools' internals.

uvicorn gives a keep-alive timeout and nothing else a webhook needs from its connections, so its
`HttpToolsProtocol` and `Server` are subclassed here, and every private method or attribute used is
listed in `UVICORN_CONTRACT` (`contract`); tests/serving/uvicorn_seam/test_uvicorn_contract.py fails
naming the symbol when a uvicorn release changes one. The jobs themselves are elsewhere and know
nothing of uvicorn: `deadlines` (header and body clocks), `keepalive` (one timer per connection),
`single_write` (a response's head waits for its body), `connections` (how many connections, and whom
to close past that), `body_budget` (bytes of bodies still arriving) and `concurrency` (decision
slots).

The connection protocol, per connection:

- the application starts only once the request's body is complete (uvicorn starts it at the
  headers): until then the body is buffered here, counted against the body budget, and the
  request holds no task and no decision slot. Two exceptions start it early, so that it can
  refuse at once with its own 413: a declared `Content-Length` over `max_body_bytes` (once the
  first part of the body is there, where the API server writes the review's uid, or at once for
  a client waiting for `100 Continue`), and a body that has grown past the limit. Started early,
  its first `receive` returns at once what has arrived. A client that sent
  `Expect: 100-continue` is told to continue here.
- when the body is complete the request takes a decision slot (`DecisionSlots`); at capacity the
  server's overload application answers instead (an AdmissionReview denial, code 429). Probes
  and metrics take no slot.
- the loop time at which the headers were complete is put into the scope under
  `arrival_key`, so that the request's one deadline (the API server's `?timeout=`) counts the
  time its body took to arrive.
- the connection is entered in the `ConnectionTable` when it is accepted, before its TLS
  handshake (`accepted`, called by `accept._Accept`; without TLS, at `connection_made`); it may
  be closed to make room for another (`evict`), a handshake still under way first, never while
  one of its requests is being decided or answered.
- a header deadline and a body deadline (`app.serving.deadlines`); on a body deadline, a request
  held for its body is given to `SharedLimits.body_late` with the part that arrived (an admission
  path answers an AdmissionReview with code 408, and the uid if that part carries it), a
  request whose application already runs gets a plain 408; the connection is closed after.
- a head size limit (`max_header_bytes`): the head is counted as raw bytes before the parser
  sees them, so neither httptools nor uvicorn ever buffers more than the limit; a larger head
  gets 431 and the connection is closed.
- the drain: from SIGTERM on (`DrainFlag.draining`, and `drain()` for the requests already
  under way), every answer carries `Connection: close` (uvicorn's `RequestResponseCycle.send`
  adds it when `keep_alive` is False) and the connection closes after it, so clients move to
  other pods while this one still answers.
- no keep-alive after a response sent before its request's body was fully received (a 413 on
  `Content-Length`): the rest of that body would otherwise be
  read and thrown away for as long as the client cares to send it. Go's server does the same.

uvicorn's own `limit_concurrency` is not used: it counts idle keep-alive connections and
requests whose body is still arriving, so the API server's parked connections or a few slow
clients would turn real requests into 503s (see `concurrency.py` for the limit that counts
decisions).

The server itself (`GracefulServer`: drain, bounded shutdown, signals) is in `server`;
its uvicorn names are listed in `UVICORN_CONTRACT` here too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import httptools
from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from app.serving.concurrency import Slot
from app.serving.connections import (
    RANK_ARRIVING,
    RANK_HANDSHAKE,
    RANK_IDLE,
    RANK_STUCK,
    RANK_UNUSED,
)
from app.serving.deadlines import RequestClock
from app.serving.keepalive import IdleTimer
from app.serving.limits import ConnectionLimits
from app.serving.noop import nothing
from app.serving.single_write import BodyFollows, HeadWithBody
from app.serving.uvicorn_seam.shared import DrainFlag, SharedLimits
from app.serving.write_stall import REASON_WRITE_TIMEOUT, WriteStall

# Under the application's logger (`app.observability.logs.LOGGER_NAME`), named here so that
# transport does not import the layers above it.
_log = logging.getLogger("kargo_rollback_webhook.connections")

# The application type uvicorn calls (the scope and messages are typed dicts there).
AsgiApp = ASGI3Application


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
    """uvicorn's httptools protocol with deadlines, size limits, and the server's shared limits.

    Use `protocol_class(...)` to get a subclass bound to settings; uvicorn builds protocol
    instances itself and passes only its own config.
    """

    limits: ClassVar[ConnectionLimits]
    drain_flag: ClassVar[DrainFlag]
    shared: ClassVar[SharedLimits]

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
        # The request whose body is still arriving, and the application it will be given.
        self._held: tuple[RequestResponseCycle, AsgiApp] | None = None
        # Whether the held request's body is entered in the body budget; whether its declared
        # length is over the limit (None until checked).
        self._in_budget = False
        self._declared_over: bool | None = None
        # The decision slot of the request being decided or answered on this connection.
        self._slot: Slot | None = None
        # Aborts the connection when an answer cannot be written in time (`pause_writing`).
        self._stall = WriteStall(self.loop, self.limits.write_timeout, self._write_stalled)
        # A pipelined request waits for the client to read the answer before it (`resume_writing`).
        self._pipeline_waits = False
        # Whether a request ever started on this connection (for `eviction_rank`).
        self._used = False
        self._client_key = ""
        # The TCP transport while the TLS handshake is under way (`accepted` to `connection_made`).
        self._handshake: asyncio.Transport | None = None
        self._counted = False

    # --- connection -------------------------------------------------------------------------

    def accepted(self, transport: asyncio.Transport) -> None:
        """The connection was accepted and its TLS handshake starts (`accept._Accept`): it is
        counted from now on, and may close an older connection (or this one, when every other is
        busy)."""
        self._handshake = transport
        peer = transport.get_extra_info("peername")
        self._client_key = str(peer[0]) if isinstance(peer, tuple) else ""
        self._counted = True
        self.shared.connections.add(self, self._client_key)

    def handshake_ended(self) -> None:
        """The handshake is over; if `connection_made` never ran, the connection is gone."""
        if self._handshake is not None:
            self._handshake = None
            self.shared.connections.discard(self, self._client_key)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._handshake = None
        # uvicorn arms the keep-alive timer only after a response; a connection on which no
        # request ever arrives would otherwise stay open for good.
        self._idle.idle()
        if not self._counted:  # no TLS: accepted just now
            self._counted = True
            self._client_key = self.client[0] if self.client else ""
            # May close an older connection, or this one when every other is busy.
            self.shared.connections.add(self, self._client_key)

    def connection_lost(self, exc: Exception | None) -> None:
        # Both hold methods of this connection: closed, they let go of them, so that nothing
        # but uvicorn's own references keeps the connection (and its TLS buffers) alive.
        self._clock.close()
        self._idle.close()
        self._stall.close()
        shared = self.shared
        shared.connections.discard(self, self._client_key)
        if self._in_budget:
            self._in_budget = False
            shared.bodies.release(self)
        self._release_unstarted()
        self._held = None
        self._give_back_slot()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    def _release_unstarted(self) -> None:
        """Break the reference cycles of answers that will never be written, so that the lost
        connection is freed by reference counting: a request held for its body, or waiting
        behind a pipelined one, never ran, so uvicorn never reset its `on_response` (a method
        of this connection); and an answer's `HeadWithBody` holds its state until the head is
        written."""
        unstarted = [cycle for cycle, _ in self.pipeline]
        if self._held is not None:
            unstarted.append(self._held[0])
        for cycle in unstarted:
            cycle.on_response = nothing
        if self.cycle is not None and isinstance(self.cycle.transport, HeadWithBody):
            self.cycle.transport.release()

    # --- keep-alive (app.serving.keepalive: one timer per connection) -----------------------

    def _unset_keepalive_if_required(self) -> None:
        self._idle.busy()

    def _idle_expired(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        # uvicorn's own, but for the keep-alive timer (above) and the decision slot.
        self._give_back_slot()
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            if self.flow.write_paused:
                # The client has not read this answer: the next one waits until it does
                # (`resume_writing`), or the write deadline aborts the connection. A client that
                # pipelines and never reads costs one answer, not one per request it sent.
                self._pipeline_waits = True
            else:
                self._start_pipelined()
        else:
            self._idle.idle()

    def _start_pipelined(self) -> None:
        cycle, app = self.pipeline.pop()
        self._start_asgi_task(cycle, app)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self._consume(data)
        if not self.transport.is_closing():
            self._clock.after_read()
            if self._held is not None:
                self._body_still_arriving(*self._held)

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
        # Calls `_start_asgi_task`, which holds the request until its body is complete.
        super().on_headers_complete()
        if self.cycle is previous:  # an upgrade request; nothing was started
            return
        self._declared_over = None
        # An extra scope key, as ASGI allows; the typed dict does not list it.
        self.scope[self.shared.arrival_key] = self._clock.body_begun()  # type: ignore[literal-required]
        # Until the body is complete a response must close the connection (module docstring);
        # `on_message_complete` restores what the client asked for if no response started yet.
        self._client_keep_alive = self.cycle.keep_alive and not self._closing
        self.cycle.keep_alive = False
        self.cycle.transport = HeadWithBody(  # type: ignore[assignment]
            self.transport, body_follows_of(self.cycle)
        )

    def on_body(self, body: bytes) -> None:
        held = self._held
        if held is None or held[0] is not self.cycle:
            # The application runs (or the request waits behind a pipelined one): uvicorn's
            # flow control, which pauses reading until the application asks for more.
            super().on_body(body)
            return
        # Nothing reads a held body before it is complete: it is bounded by the body limit and
        # the body budget instead (`_body_still_arriving`).
        held[0].body += body

    def on_message_complete(self) -> None:
        self._clock.body_complete()
        self._reading_head = True
        self._head_bytes = 0
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and not self._closing:
            cycle.keep_alive = self._client_keep_alive and not self.drain_flag.draining
        super().on_message_complete()
        held = self._held
        if held is not None and held[0] is cycle:
            self._held = None
            if self._in_budget:
                self._in_budget = False
                self.shared.bodies.release(self)
            self._launch(*held)

    # --- starting the application (module docstring) ----------------------------------------

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: AsgiApp) -> None:
        """uvicorn calls this at the headers (and for a pipelined request, after the answer
        before it); the application starts once the body is complete."""
        if cycle.more_body:
            self._held = (cycle, app)
        else:
            self._launch(cycle, app)

    def _launch(self, cycle: RequestResponseCycle, app: AsgiApp) -> None:
        """Start the application on a complete request, in a decision slot if one is free."""
        self._used = True
        if cycle.scope["path"] not in self.shared.exempt_paths:
            slot = self.shared.slots.take(len(cycle.body), self._client_key)
            if slot is not None:
                self._slot = slot
                cycle.scope[self.shared.keep_key] = slot  # type: ignore[literal-required]
            else:
                app = self.shared.overloaded
        super()._start_asgi_task(cycle, app)

    def _body_still_arriving(self, cycle: RequestResponseCycle, app: AsgiApp) -> None:
        """After a read that left the held request's body incomplete."""
        size = len(cycle.body)
        if size > self.limits.max_body_bytes or (
            self._declared_too_large(cycle) and (size > 0 or cycle.waiting_for_100_continue)
        ):
            # Started now, without a slot: the application refuses it (413) from its headers and
            # the part that arrived, and the answer closes the connection (`on_headers_complete`).
            self._start_unfinished(cycle, app)
            return
        if cycle.waiting_for_100_continue:
            # uvicorn sends this when the application first asks for the body; here the body
            # is what the application waits for.
            cycle.waiting_for_100_continue = False
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._in_budget = True
        self.shared.bodies.update(self, size)

    def _start_unfinished(self, cycle: RequestResponseCycle, app: AsgiApp) -> None:
        """Start `app` on a request whose body is incomplete, to refuse it; its first `receive`
        returns what has arrived, at once."""
        self._held = None
        if self._in_budget:
            self._in_budget = False
            self.shared.bodies.release(self)
        self._used = True
        cycle.message_event.set()
        super()._start_asgi_task(cycle, app)

    def _declared_too_large(self, cycle: RequestResponseCycle) -> bool:
        over = self._declared_over
        if over is None:
            over = False
            for name, value in cycle.scope["headers"]:
                if name == b"content-length":
                    # httptools refuses a malformed length before this
                    over = value.isdigit() and int(value) > self.limits.max_body_bytes
            self._declared_over = over
        return over

    def _give_back_slot(self) -> None:
        slot = self._slot
        if slot is not None:
            self._slot = None
            if not slot.kept:
                slot.give_back()

    # --- writing (app.serving.write_stall) --------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        self._stall.paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stall.resumed()
        if self._pipeline_waits and self.pipeline and not self.transport.is_closing():
            self._pipeline_waits = False
            self._start_pipelined()

    def _write_stalled(self) -> None:
        self.shared.connections.close(self, self._client_key, REASON_WRITE_TIMEOUT)

    # --- eviction (app.serving.connections, app.serving.body_budget) ------------------------

    def eviction_rank(self) -> int | None:
        if self._handshake is not None:
            return RANK_HANDSHAKE  # nothing asked of it yet, nothing to lose
        if self.flow.write_paused:
            return RANK_STUCK  # its client does not read its answers
        if self._slot is not None or self.pipeline:
            return None
        if self._held is not None or (self._reading_head and self._head_bytes > 0):
            return RANK_ARRIVING
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            return None  # an application refusing a body over the limit
        return RANK_IDLE if self._used else RANK_UNUSED

    def evict(self, reason: str) -> None:
        _log.debug(
            "closing connection: %s",
            reason,
            extra={"fields": {"client": _peer(self.client), "reason": reason}},
        )
        # Aborted, not closed: a TLS close waits up to 30 s for the peer's close_notify, and a
        # client that opened connections to hold memory would not send it. In its handshake,
        # the TCP transport under the TLS protocol.
        (self._handshake or self.transport).abort()

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
        held = self._held
        late = self.shared.body_late
        if held is not None and held[0] is cycle and late is not None:
            # The application never started: what answers instead reads the part that arrived
            # (for the uid); nothing more is read, and the answer closes the connection.
            self.flow.pause_reading()
            cycle.keep_alive = False
            self._start_unfinished(cycle, late)
            return
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
    limits: ConnectionLimits, drain_flag: DrainFlag, shared: SharedLimits
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class to pass as `uvicorn.Config(http=...)`, bound to `limits`, to where it
    reads whether the server drains, and to the limits its connections share."""
    bound_limits, bound_flag, bound_shared = limits, drain_flag, shared

    class BoundGuardedHttpToolsProtocol(GuardedHttpToolsProtocol):
        limits = bound_limits
        drain_flag = bound_flag
        shared = bound_shared

    return BoundGuardedHttpToolsProtocol


def _peer(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client else None
