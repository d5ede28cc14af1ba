"""Keep-alive: one timer per connection, however many requests it carries.

uvicorn starts a keep-alive timer after every response and cancels it when the next request
arrives. With the 120 s keep-alive an API server needs, those cancelled timers are only released
when they would have fired: memory grows with the request rate for two minutes (about 1 MiB per
24,000 requests), and each request pays for a timer. Here a connection keeps at most one timer:
going busy only records it, and the timer, when it fires, expires the connection if it has been
idle for the whole timeout or re-arms for the moment it will have been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.serving.noop import nothing


class IdleTimer:
    """Calls `on_expire` once the connection has been idle for `timeout` seconds."""

    __slots__ = ("_handle", "_idle_since", "_loop", "_on_expire", "_timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, on_expire: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._on_expire = on_expire
        # When the connection last went idle (loop time); None while a request is under way.
        self._idle_since: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    def busy(self) -> None:
        """A request is under way: the connection is not idle (no timer is touched)."""
        self._idle_since = None

    def idle(self) -> None:
        """The connection went idle now; arms the timer unless one is armed already."""
        self._idle_since = self._loop.time()
        if self._handle is None:
            self._handle = self._loop.call_at(self._idle_since + self._timeout, self._fire)

    def close(self) -> None:
        """The connection is gone: cancel the timer and let go of `on_expire` (the connection's
        own method), so that the connection is freed by reference counting."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._idle_since = None
        self._on_expire = nothing

    def _fire(self) -> None:
        self._handle = None
        idle_since = self._idle_since
        if idle_since is None:
            return  # busy: the next idle period arms a timer of its own
        deadline = idle_since + self._timeout
        if self._loop.time() >= deadline:
            self._on_expire()
        else:
            self._handle = self._loop.call_at(deadline, self._fire)
