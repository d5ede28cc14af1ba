"""A byte budget for request bodies still arriving, shared by every connection.

A body is buffered whole before its request is decided (`uvicorn_seam` starts the application
only then), so the bytes of bodies still arriving are what slow clients make the server hold:
256 requests trickling 7 MiB bodies would hold 1.75 GiB. Past `limit` bytes in all, the body
that began arriving first is dropped (its connection closed), and the next, until the rest fits.
The API server sends a body at once, in one burst of reads, so it is always the youngest and
finishes long before it could become the oldest; a client that keeps bytes here must keep them
for long, and is the one closed. One body alone is never dropped by this budget: it is bounded
by `--max-body-bytes`.

Only bodies that a read left incomplete are entered here (from the read's end, with what has
arrived so far); a request that arrives in one read, as nearly all do, never touches the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

REASON: Final = "max-body-bytes-in-flight"


class ArrivingBody(Protocol):
    def evict(self, reason: str) -> None:
        """Close the connection the body arrives on, now."""
        ...


class BodyBudget:
    """Bytes of incomplete request bodies, oldest body first."""

    __slots__ = ("_arriving", "_limit", "_on_evict", "_total")

    def __init__(self, *, limit: int, on_evict: Callable[[str], None]) -> None:
        if limit < 1:
            raise ValueError("the body budget must be at least 1 byte")
        self._limit = limit
        self._on_evict = on_evict
        # Insertion-ordered: the body that began arriving first is first.
        self._arriving: dict[ArrivingBody, int] = {}
        self._total = 0

    @property
    def total(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._arriving)

    def update(self, body: ArrivingBody, size: int) -> None:
        """`body` has `size` bytes so far; past the limit, drop the oldest bodies."""
        self._total += size - self._arriving.get(body, 0)
        self._arriving[body] = size
        while self._total > self._limit and len(self._arriving) > 1:
            oldest = next(iter(self._arriving))
            self.release(oldest)
            self._on_evict(REASON)
            oldest.evict(REASON)

    def release(self, body: ArrivingBody) -> None:
        """The body is complete or its connection is gone."""
        size = self._arriving.pop(body, None)
        if size is not None:
            self._total -= size
