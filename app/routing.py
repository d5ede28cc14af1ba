"""The ASGI application: each admission path to its endpoint, everything else to FastAPI.

Compiled (setup.py): it runs on every request, so a call through it costs a native call rather
than an interpreted frame. `app.main` builds it from the dispatch table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final, final

from app.admission.http import AdmissionEndpoint, Receive, Scope, Send

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@final
class Application:
    """The ASGI application: admission paths to their endpoint, everything else to FastAPI.

    The admission endpoints skip FastAPI's middleware stack and router, which cost about as
    much as the admission decision itself. `__call__` is a plain function returning the
    chosen app's coroutine, so this adds no coroutine of its own to a request.
    """

    __slots__ = ("endpoints", "exempt_paths", "fallback")

    def __init__(
        self,
        endpoints: Mapping[str, AdmissionEndpoint],
        fallback: AsgiApp,
        exempt_paths: frozenset[str],
    ) -> None:
        self.endpoints = dict(endpoints)
        self.fallback = fallback
        # The fallback's own paths (probes and metrics), which the transport serves outside the
        # decision slots: a loaded pod must not be restarted or lose its metrics because it is
        # loaded. Taken from the fallback's routes, so a path is declared once.
        self.exempt_paths = exempt_paths

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] == "http":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                return endpoint(scope, receive, send)
        return self.fallback(scope, receive, send)

    def overloaded(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """What answers a request that found the server at capacity (the transport calls it
        instead of the application): an admission path denies with code 429 and its uid; any
        other path gets a plain 429. Never a 5xx: `failurePolicy: Ignore` would admit it."""
        endpoint = self.endpoints.get(scope["path"])
        if endpoint is not None:
            return endpoint.refuse_overloaded(scope, receive, send)
        return _plain_overloaded(send)

    def body_late(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """What answers a request whose body did not arrive within `--body-timeout` (the
        transport calls it; its first `receive` returns the part that arrived): an admission
        path denies with code 408 and the uid if that part carries it; any other path gets a
        plain 408."""
        endpoint = self.endpoints.get(scope["path"])
        if endpoint is not None:
            return endpoint.refuse_body_late(scope, receive, send)
        return _plain_body_late(send)


_OVERLOADED_BODY: Final = b"overloaded: too many requests in flight, retry"
_BODY_LATE_BODY: Final = b"request body not received in time"


async def _plain_overloaded(send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(_OVERLOADED_BODY)),
        (b"retry-after", b"1"),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": _OVERLOADED_BODY})


async def _plain_body_late(send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(_BODY_LATE_BODY)),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": _BODY_LATE_BODY})
