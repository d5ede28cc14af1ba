"""The drain in the connection protocol, in process: from SIGTERM on, answers close.

The real process is covered by test_shutdown.py; here each moment a drain can meet a request
is set up exactly: before it arrives, while its body is arriving, while it is being decided,
and on an idle connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import uvicorn
from starlette.types import Message, Receive, Scope, Send
from uvicorn.server import ServerState

from app.serving.deadlines import ConnectionLimits
from app.serving.uvicorn_seam import Admission, GuardedHttpToolsProtocol, protocol_class
from tests.serving import harness

LIMITS = ConnectionLimits(
    header_timeout=5, body_timeout=5, max_header_bytes=16_384, max_body_bytes=1 << 20
)
HEAD = b"POST /x HTTP/1.1\r\nhost: webhook\r\ncontent-length: 2\r\n\r\n"


@dataclass
class Flag:
    draining: bool = False


class Transport:
    """What the protocol uses of an asyncio transport, recording what it is asked to do."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8443)}.get(
            name, default
        )


class Connection:
    """One protocol instance on a fake transport, serving an app that answers when released."""

    def __init__(
        self,
        flag: Flag,
        admission: Admission | None = None,
        *,
        max_body_bytes: int = LIMITS.max_body_bytes,
    ) -> None:
        self.release = asyncio.Event()
        # Calls of the app, and of those the whole body was received.
        self.started = 0
        self.requests = 0
        self.scopes: list[Scope] = []

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            self.started += 1
            self.scopes.append(scope)
            message: Message = {"more_body": True}
            while message.get("more_body", False):
                message = await receive()
            self.requests += 1
            await self.release.wait()
            headers = [(b"content-length", b"2")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

        config = uvicorn.Config(app, lifespan="off", log_config=None, proxy_headers=False)
        config.load()
        limits = dataclasses.replace(LIMITS, max_body_bytes=max_body_bytes)
        protocol = protocol_class(limits, flag, admission or harness.admission())
        self.protocol: GuardedHttpToolsProtocol = protocol(
            config=config, server_state=ServerState(), app_state={}
        )
        self.transport = Transport()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    async def answered(self) -> bytes:
        """Release the app and return the answer written."""
        self.release.set()
        for _ in range(100):
            await asyncio.sleep(0)
            if self.transport.written.endswith(b"ok"):
                break
        answer = bytes(self.transport.written)
        self.transport.written.clear()
        self.release.clear()
        return answer.lower()

    def close(self) -> None:
        self.protocol.connection_lost(None)


def run(scenario: object) -> None:
    asyncio.run(scenario)  # type: ignore[arg-type]


def test_answers_keep_the_connection_while_serving() -> None:
    async def scenario() -> None:
        conn = Connection(Flag())
        conn.protocol.data_received(HEAD + b"{}")
        answer = await conn.answered()
        assert answer.startswith(b"http/1.1 200")
        assert b"connection: close" not in answer
        assert not conn.transport.closed
        conn.close()

    run(scenario())


def test_a_request_arriving_during_the_drain_closes_its_connection() -> None:
    async def scenario() -> None:
        flag = Flag()
        conn = Connection(flag)
        conn.protocol.data_received(HEAD + b"{}")
        assert b"connection: close" not in await conn.answered()
        flag.draining = True  # SIGTERM between two requests on a keep-alive connection
        conn.protocol.data_received(HEAD + b"{}")
        answer = await conn.answered()
        assert b"connection: close" in answer
        assert conn.transport.closed

    run(scenario())


def test_a_request_being_decided_when_the_drain_starts_closes_its_connection() -> None:
    async def scenario() -> None:
        flag = Flag()
        conn = Connection(flag)
        conn.protocol.data_received(HEAD + b"{}")
        await asyncio.sleep(0)
        assert conn.requests == 1  # the whole request is in; its answer is not
        flag.draining = True
        conn.protocol.drain()
        answer = await conn.answered()
        assert answer.startswith(b"http/1.1 200")
        assert b"connection: close" in answer
        assert conn.transport.closed

    run(scenario())


def test_a_request_whose_body_is_arriving_when_the_drain_starts_closes_its_connection() -> None:
    async def scenario() -> None:
        flag = Flag()
        conn = Connection(flag)
        conn.protocol.data_received(HEAD + b"{")
        flag.draining = True
        conn.protocol.drain()
        conn.protocol.data_received(b"}")
        answer = await conn.answered()
        assert answer.startswith(b"http/1.1 200")
        assert b"connection: close" in answer
        assert conn.transport.closed

    run(scenario())


def test_the_drain_leaves_an_idle_connection_to_the_shutdown() -> None:
    """Nothing is cut off: an idle connection may still carry a request, answered with close."""

    async def scenario() -> None:
        flag = Flag()
        conn = Connection(flag)
        flag.draining = True
        conn.protocol.drain()
        assert not conn.transport.closed
        assert conn.transport.written == b""
        conn.protocol.data_received(HEAD + b"{}")
        assert b"connection: close" in await conn.answered()

    run(scenario())
