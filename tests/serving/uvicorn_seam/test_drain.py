"""The drain in the connection protocol, in process: from SIGTERM on, answers close.

The real process is covered by test_shutdown.py; here each moment a drain can meet a request
is set up exactly: before it arrives, while its body is arriving, while it is being decided,
and on an idle connection.
"""

from __future__ import annotations

import asyncio

from tests.serving.uvicorn_seam.protocol import HEAD, Connection, Flag, run


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
