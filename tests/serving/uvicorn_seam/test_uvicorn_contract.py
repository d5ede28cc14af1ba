"""The uvicorn internals app/serving/uvicorn_seam/ relies on are still there and still behave.

Each name in `UVICORN_CONTRACT` is checked on the installed uvicorn (methods on the class,
attributes on a live connection, request cycle and server), so an upgrade that renames or drops
one fails here naming the symbol, not somewhere deep in a serving test. The behaviours the seam
builds on are checked by themselves.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from app.serving.uvicorn_seam import UVICORN_CONTRACT
from tests.support.transports import RecordingTransport

HEAD = b"POST /x HTTP/1.1\r\nhost: webhook\r\ncontent-length: 2\r\n\r\n"


def _live_objects() -> dict[str, Any]:
    """A protocol with a request under way, its cycle, a server and its state (uvicorn's own
    classes, not the seam's subclasses)."""
    found: dict[str, Any] = {}

    async def scenario() -> None:
        release = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await receive()
            await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        config = uvicorn.Config(app, lifespan="off", log_config=None, proxy_headers=False)
        config.load()
        state = ServerState()
        protocol = HttpToolsProtocol(config=config, server_state=state, app_state={})
        protocol.connection_made(RecordingTransport())  # type: ignore[arg-type]
        protocol.data_received(HEAD + b"ok")
        await asyncio.sleep(0)
        found.update(
            HttpToolsProtocol=protocol,
            RequestResponseCycle=protocol.cycle,
            Server=uvicorn.Server(config),
            ServerState=state,
            FlowControl=protocol.flow,
            Config=config,
        )
        release.set()
        await asyncio.sleep(0)
        protocol.connection_lost(None)

    asyncio.run(scenario())
    return found


LIVE = _live_objects()


@pytest.mark.parametrize(("owner", "name"), UVICORN_CONTRACT, ids=str)
def test_every_internal_the_seam_uses_exists(owner: str, name: str) -> None:
    if owner == "module httptools_impl":
        assert hasattr(httptools_impl, name), (
            f"uvicorn.protocols.http.httptools_impl.{name} is gone"
        )
        return
    target = LIVE[owner]
    # Some attributes exist only once a server started (`servers`, `lifespan`): set by its code.
    pattern = rf"self\.{re.escape(name)}\s*(:[^=\n]*)?="
    assigned = re.search(pattern, inspect.getsource(type(target))) is not None
    assert hasattr(target, name) or hasattr(type(target), name) or assigned, (
        f"uvicorn's {owner}.{name} is gone or renamed: app/serving/uvicorn_seam/ relies on it"
    )


def test_a_cycle_that_may_not_keep_alive_says_connection_close() -> None:
    """The drain sets `RequestResponseCycle.keep_alive = False` and relies on `send` adding
    `Connection: close` to the head (uvicorn 0.53 and later)."""

    async def scenario() -> bytes:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        config = uvicorn.Config(app, lifespan="off", log_config=None, proxy_headers=False)
        config.load()
        transport = RecordingTransport()
        protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(HEAD)
        assert isinstance(protocol.cycle, RequestResponseCycle)
        protocol.cycle.keep_alive = False
        protocol.data_received(b"ok")
        for _ in range(100):
            await asyncio.sleep(0)
            if transport.written:
                break
        protocol.connection_lost(None)
        return bytes(transport.written).lower()

    head = asyncio.run(scenario()).split(b"\r\n\r\n", 1)[0]
    assert b"\r\nconnection: close" in head, (
        "uvicorn's RequestResponseCycle.send no longer adds `Connection: close` when keep_alive "
        f"is False; the drain in app/serving/uvicorn_seam/ depends on it. Head: {head!r}"
    )


def test_the_keep_alive_timer_is_armed_only_where_the_seam_overrides() -> None:
    """uvicorn arms its keep-alive timer in `on_response_complete` and cancels it in
    `_unset_keepalive_if_required`; the seam overrides both (app.serving.keepalive)."""
    source = HttpToolsProtocol.on_response_complete.__code__.co_names
    assert "timeout_keep_alive_task" in source
    assert (
        "timeout_keep_alive_task"
        in HttpToolsProtocol._unset_keepalive_if_required.__code__.co_names
    )
