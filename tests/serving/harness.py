"""The limits a server's connections share, built for in-process protocol tests."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from app.serving.body_budget import BodyBudget
from app.serving.concurrency import DecisionSlots
from app.serving.connections import ConnectionTable
from app.serving.uvicorn_seam import Admission

ARRIVAL_KEY = "test.arrived"


async def answer_429(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the application's overload answer."""
    await send({"type": "http.response.start", "status": 429, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def admission(
    *,
    max_connections: int = 10_000,
    max_per_client: int = 10_000,
    body_budget: int = 1 << 30,
    slots: int = 10_000,
    slot_bytes: int = 1 << 30,
    evicted: list[str] | None = None,
    rejected: list[None] | None = None,
) -> Admission:
    """Generous limits unless a test narrows one; `evicted` and `rejected` record what happened."""
    evictions = evicted if evicted is not None else []
    rejections = rejected if rejected is not None else []
    return Admission(
        connections=ConnectionTable(
            max_total=max_connections, max_per_client=max_per_client, on_evict=evictions.append
        ),
        bodies=BodyBudget(limit=body_budget, on_evict=evictions.append),
        slots=DecisionSlots(
            limit=slots, byte_limit=slot_bytes, on_reject=lambda: rejections.append(None)
        ),
        overloaded=answer_429,
        arrival_key=ARRIVAL_KEY,
    )
