"""ConcurrencyLimit in process: requests in flight are counted, the one over gets 503 at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.main import Application
from app.serving.concurrency import ConcurrencyLimit


class GatedApp:
    """Answers 200 once `gate` is set; counts how many calls are inside."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.inside = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        try:
            if scope["path"] == "/boom":
                raise RuntimeError("boom")
            if scope["path"].startswith("/mutate"):
                await self.gate.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            self.inside -= 1


async def call(app: Any, path: str) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "POST"}, receive, send)
    return sent


def status_of(messages: list[Message]) -> int:
    status: int = messages[0]["status"]
    return status


def test_the_request_over_the_limit_gets_503_and_probes_pass() -> None:
    async def scenario() -> None:
        inner = GatedApp()
        rejections: list[None] = []
        limited = ConcurrencyLimit(inner, limit=2, on_reject=lambda: rejections.append(None))

        held = [asyncio.create_task(call(limited, f"/mutate-{i}")) for i in range(2)]
        await asyncio.sleep(0)
        assert limited.in_flight == 2

        refused = await asyncio.wait_for(call(limited, "/mutate-3"), timeout=1)
        assert status_of(refused) == 503
        headers = dict(refused[0]["headers"])
        assert headers[b"retry-after"] == b"1"
        assert len(rejections) == 1
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert status_of(await asyncio.wait_for(call(limited, probe), timeout=1)) == 200

        inner.gate.set()
        assert [status_of(m) for m in await asyncio.gather(*held)] == [200, 200]
        assert limited.in_flight == 0
        assert status_of(await call(limited, "/mutate-4")) == 200
        assert len(rejections) == 1

    asyncio.run(scenario())


def test_a_failing_request_frees_its_slot() -> None:
    async def scenario() -> None:
        limited = ConcurrencyLimit(GatedApp(), limit=1, on_reject=lambda: None)
        with pytest.raises(RuntimeError):
            await call(limited, "/boom")
        assert limited.in_flight == 0

    asyncio.run(scenario())


def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def scenario() -> None:
        limited = ConcurrencyLimit(inner, limit=1, on_reject=lambda: None)

        async def receive() -> Message:
            return {"type": "lifespan.startup"}

        async def send(message: Message) -> None:
            pass

        await limited({"type": "lifespan"}, receive, send)

    asyncio.run(scenario())
    assert seen == ["lifespan"]


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(GatedApp(), limit=0, on_reject=lambda: None)


def test_routed_paths_go_to_their_own_app_and_count_against_the_limit() -> None:
    async def scenario() -> None:
        app, endpoint = GatedApp(), GatedApp()
        # As `serve` composes them: the limit in front of the application's dispatch.
        limited = ConcurrencyLimit(
            Application({"/mutate-x": endpoint}, app), limit=1, on_reject=lambda: None
        )
        held = asyncio.create_task(call(limited, "/mutate-x"))
        await asyncio.sleep(0)
        assert (endpoint.inside, app.inside) == (1, 0)
        assert status_of(await call(limited, "/other")) == 503  # the routed call holds the slot
        endpoint.gate.set()
        assert status_of(await held) == 200
        assert status_of(await call(limited, "/other")) == 200
        assert (endpoint.inside, app.inside, limited.in_flight) == (0, 0, 0)

    asyncio.run(scenario())
