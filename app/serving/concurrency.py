"""A cap on requests in flight that answers a fast 503 instead of queueing.

A webhook that queues under load answers late, and the API server gives up after its
`timeoutSeconds` anyway, holding the user's write for that long; a 503 at once fails the call
just as surely but fast, and tells the operator (`krw_overload_rejections_total`) to scale out.

Requests are counted from the moment their headers are complete until their answer is sent,
so a request whose body is still arriving counts (it holds a buffer and a task), and an idle
keep-alive connection does not (uvicorn's own `limit_concurrency` counts connections, which
would turn the API server's parked keep-alive connections into 503s). Probes and metrics are
exempt: a loaded pod must not be restarted or lose its metrics because it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})

_BODY: Final = b"overloaded: too many requests in flight, retry"
_HEADERS: Final = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_BODY)).encode("ascii")),
    (b"retry-after", b"1"),
]


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` requests in flight; the next one gets 503 at once."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        on_reject: Callable[[], None],
        exempt_paths: frozenset[str] = EXEMPT_PATHS,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self._app = app
        self._limit = limit
        self._on_reject = on_reject
        self._exempt_paths = exempt_paths
        # Only touched on the event loop, between awaits: no lock needed.
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._exempt_paths:
            await self._app(scope, receive, send)
            return
        if self._in_flight >= self._limit:
            self._on_reject()
            await send({"type": "http.response.start", "status": 503, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": _BODY})
            return
        self._in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_flight -= 1
