"""CloseConnectionsWhileDraining in process: `Connection: close` exactly while draining."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.serving.draining import CloseConnectionsWhileDraining


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-length", b"2")]
    if scope["path"] == "/keep-alive":
        headers.append((b"Connection", b"keep-alive"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def response_headers(draining: bool, path: str = "/x") -> list[tuple[bytes, bytes]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    app = CloseConnectionsWhileDraining(answer, draining=lambda: draining)
    asyncio.run(app({"type": "http", "path": path}, receive, send))
    assert sent[1]["body"] == b"ok"
    headers: list[tuple[bytes, bytes]] = sent[0]["headers"]
    return headers


def test_answers_keep_their_headers_while_serving() -> None:
    assert response_headers(draining=False) == [(b"content-length", b"2")]


@pytest.mark.parametrize("path", ["/x", "/keep-alive"])
def test_answers_close_the_connection_while_draining(path: str) -> None:
    headers = response_headers(draining=True, path=path)
    assert [value for name, value in headers if name.lower() == b"connection"] == [b"close"]
    assert (b"content-length", b"2") in headers


def test_the_drain_is_checked_when_the_answer_starts() -> None:
    """A request that arrived before SIGTERM and is answered after it closes too."""
    state = {"draining": False}
    sent: list[Message] = []

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        state["draining"] = True  # SIGTERM while the request runs
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    app = CloseConnectionsWhileDraining(slow, draining=lambda: state["draining"])
    asyncio.run(app({"type": "http", "path": "/"}, receive, send))
    assert sent[0]["headers"] == [(b"connection", b"close")]
