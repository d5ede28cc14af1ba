"""`Connection: close` on every answer while the server drains, so clients move to other pods.

From SIGTERM on `/readyz` fails and the endpoints controller takes the pod out of the Service,
but that takes a moment to reach every API server, and connections they already hold to this pod
stay open regardless: the API server keeps reusing them. Closing each connection after the
answer it carries makes the client's next request open a new connection, which the Service
routes elsewhere, so that when the listener closes no client still counts on this pod.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CONNECTION = b"connection"


class CloseConnectionsWhileDraining:
    """ASGI middleware: while `draining()` is true, answers carry `Connection: close`."""

    def __init__(self, app: ASGIApp, *, draining: Callable[[], bool]) -> None:
        self._app = app
        self._draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_closing_while_draining(message: Message) -> None:
            # Checked when the answer starts, not when the request arrived: a request that was
            # running when SIGTERM came is answered during the drain too.
            if message["type"] == "http.response.start" and self._draining():
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _CONNECTION
                ]
                headers.append((_CONNECTION, b"close"))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_closing_while_draining)
