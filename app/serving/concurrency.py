"""Decision slots: how many requests, and how many of their body bytes, are decided at once.

A request takes a slot only once its whole body has arrived (`uvicorn_seam` starts the
application then, not at the headers), so clients that are slow to send cannot hold slots: the
body budget (`body_budget`) and the connection limits (`connections`) deal with them by closing
their connections. What a slot bounds is the work and memory of decisions under way: at most
`limit` requests, and at most `byte_limit` bytes of their bodies (a request alone may always
take a slot, whatever its size; `--max-body-bytes` bounds it). A request that finds no slot is
answered at once by the overload application the server is given: an AdmissionReview that
denies it with code 429 and asks the API server's client to retry, never a 5xx, which
`failurePolicy: Ignore` would turn into an admission. A slot is given back when the answer has
been written or the connection is gone.

Probes and metrics are exempt: a loaded pod must not be restarted or lose its metrics because
it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

EXEMPT_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})


class DecisionSlots:
    """Requests being decided or answered: at most `limit`, with at most `byte_limit` body bytes."""

    __slots__ = ("_byte_limit", "_bytes", "_in_flight", "_limit", "_on_reject")

    def __init__(self, *, limit: int, byte_limit: int, on_reject: Callable[[], None]) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if byte_limit < 1:
            raise ValueError(f"byte_limit must be at least 1, got {byte_limit}")
        self._limit = limit
        self._byte_limit = byte_limit
        self._on_reject = on_reject
        # Only touched on the event loop: no lock needed.
        self._in_flight = 0
        self._bytes = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def bytes_in_flight(self) -> int:
        return self._bytes

    def take(self, body_bytes: int) -> bool:
        """Take a slot for a request whose body has `body_bytes`; False at capacity."""
        if self._in_flight >= self._limit or (
            self._in_flight > 0 and self._bytes + body_bytes > self._byte_limit
        ):
            self._on_reject()
            return False
        self._in_flight += 1
        self._bytes += body_bytes
        return True

    def give_back(self, body_bytes: int) -> None:
        self._in_flight -= 1
        self._bytes -= body_bytes
