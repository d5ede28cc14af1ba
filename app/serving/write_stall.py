"""The write deadline: a client that does not read its answers loses its connection.

An answer leaves in one write; when the client stops reading, the transport's buffer passes its
high-water mark and pauses writing, and uvicorn's `send` waits for it to drain, for good. The
request keeps its decision slot and its answer's memory meanwhile: 256 connections that pipeline
requests with large answers and never read would hold every slot. So from the moment writing
pauses the connection has `--write-timeout` seconds to resume, or it is aborted (which gives its
slot back); and while paused it is among the first connections closed to make room for another
(`connections.RANK_STUCK`, after handshakes still under way), before any newcomer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from app.serving.noop import nothing

REASON_WRITE_TIMEOUT: Final = "write-timeout"


class WriteStall:
    """Calls `on_stalled` once writing has stayed paused for `timeout` seconds."""

    __slots__ = ("_handle", "_loop", "_on_stalled", "_timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, on_stalled: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._on_stalled = on_stalled
        self._handle: asyncio.TimerHandle | None = None

    def paused(self) -> None:
        """The transport paused writing: its buffer is past the high-water mark."""
        if self._handle is None:
            self._handle = self._loop.call_later(self._timeout, self._fire)

    def resumed(self) -> None:
        """The client read enough: the buffer is below the low-water mark again."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        """The connection is gone: cancel the timer and let go of `on_stalled`."""
        self.resumed()
        self._on_stalled = nothing

    def _fire(self) -> None:
        self._handle = None
        self._on_stalled()
