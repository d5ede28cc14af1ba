"""In-process protocol tests' parts: the limits a server's connections share, a drain flag, and
one protocol instance on a recording transport serving an app that answers when released."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import uvicorn
from starlette.types import Message, Receive, Scope, Send
from uvicorn.server import ServerState

from app.serving.body_budget import BodyBudget
from app.serving.concurrency import DecisionSlots
from app.serving.connections import ConnectionTable
from app.serving.limits import ConnectionLimits
from app.serving.uvicorn_seam import GuardedHttpToolsProtocol, SharedLimits, protocol_class
from tests.support.transports import RecordingTransport

ARRIVAL_KEY = "test.arrived"
# What `app.main.create_app` declares exempt (its FastAPI routes); the seam takes what it is given.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


async def answer_429(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the application's overload answer."""
    await send({"type": "http.response.start", "status": 429, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def shared_limits(
    *,
    max_connections: int = 10_000,
    max_per_client: int = 10_000,
    body_budget: int = 1 << 30,
    slots: int = 10_000,
    slot_bytes: int = 1 << 30,
    evicted: list[str] | None = None,
    rejected: list[None] | None = None,
) -> SharedLimits:
    """Generous limits unless a test narrows one; `evicted` and `rejected` record what happened."""
    evictions = evicted if evicted is not None else []
    rejections = rejected if rejected is not None else []
    return SharedLimits(
        connections=ConnectionTable(
            max_total=max_connections, max_per_client=max_per_client, on_evict=evictions.append
        ),
        bodies=BodyBudget(limit=body_budget, on_evict=evictions.append),
        slots=DecisionSlots(
            limit=slots, byte_limit=slot_bytes, on_reject=lambda: rejections.append(None)
        ),
        overloaded=answer_429,
        arrival_key=ARRIVAL_KEY,
        exempt_paths=EXEMPT_PATHS,
    )


LIMITS = ConnectionLimits(
    header_timeout=5, body_timeout=5, max_header_bytes=16_384, max_body_bytes=1 << 20
)
HEAD = b"POST /x HTTP/1.1\r\nhost: webhook\r\ncontent-length: 2\r\n\r\n"


@dataclass
class Flag:
    draining: bool = False


class Connection:
    """One protocol instance on a recording transport, serving an app that answers when released;
    `shared` is the connections' shared limits (generous ones when None)."""

    def __init__(
        self,
        flag: Flag,
        shared: SharedLimits | None = None,
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
        protocol = protocol_class(limits, flag, shared or shared_limits())
        self.protocol: GuardedHttpToolsProtocol = protocol(
            config=config, server_state=ServerState(), app_state={}
        )
        self.transport = RecordingTransport()
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
