"""Per-request deadlines: a slow client costs little and never delays the API server's calls.

- the header deadline runs from the first byte of a request to the end of its headers
  (`header_timeout`). The clock starts with a request's first byte, not with the connection or
  the previous response: an idle keep-alive connection is governed by the keep-alive timeout
  alone (Go's transport keeps idle connections for 90 s and may dial one that it then parks
  unused, so a fresh connection is idle too, not slow).
- the body deadline runs from the end of the headers to the end of the body (`body_timeout`).

A timer is armed only once a read ends with the head or body incomplete, so a request that
arrives in one read (the API server's) costs no timer at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.serving.limits import ConnectionLimits
from app.serving.noop import nothing


class RequestClock:
    """The header and body clocks of the request under way on one connection."""

    __slots__ = (
        "_body_started",
        "_body_timer",
        "_head_started",
        "_header_timer",
        "_limits",
        "_loop",
        "_on_body_late",
        "_on_head_late",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limits: ConnectionLimits,
        *,
        on_head_late: Callable[[], None],
        on_body_late: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._limits = limits
        self._on_head_late = on_head_late
        self._on_body_late = on_body_late
        self._head_started: float | None = None
        self._body_started: float | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def head_begun(self) -> None:
        self._head_started = self._loop.time()

    def body_begun(self) -> float:
        """The headers are complete: the body clock starts now (loop time, returned)."""
        self._body_started = now = self._loop.time()
        return now

    def body_complete(self) -> None:
        self._body_started = None
        self._cancel_body_timer()

    def after_read(self) -> None:
        """Run the clock of a head or body that a read left incomplete."""
        if self._head_started is not None and self._header_timer is None:
            self._header_timer = self._loop.call_at(
                self._head_started + self._limits.header_timeout, self._head_late
            )
        if self._body_started is not None and self._body_timer is None:
            self._body_timer = self._loop.call_at(
                self._body_started + self._limits.body_timeout, self._body_late
            )

    def stop_head_clock(self) -> None:
        self._head_started = None
        self._cancel_header_timer()

    def close(self) -> None:
        """The connection is gone: cancel both clocks and let go of the callbacks, which are
        the connection's own methods, so that the connection is freed by reference counting
        rather than left to the cyclic collector."""
        self._cancel_header_timer()
        self._cancel_body_timer()
        self._head_started = self._body_started = None
        self._on_head_late = self._on_body_late = nothing

    def _head_late(self) -> None:
        self._header_timer = None
        self._head_started = None
        self._on_head_late()

    def _body_late(self) -> None:
        self._body_timer = None
        self._body_started = None
        self._on_body_late()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
