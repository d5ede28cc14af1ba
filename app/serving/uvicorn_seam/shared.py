"""What the connections of one server share, as the connection protocol sees it.

Kept apart from the protocol (`protocol`) so that each module stays one job: these are plain
declarations, bound to a protocol class by `protocol.protocol_class`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from app.serving.body_budget import BodyBudget
from app.serving.concurrency import DecisionSlots
from app.serving.connections import ConnectionTable


class DrainFlag(Protocol):
    """Where the protocol reads whether the server is draining (`Health` in the app)."""

    @property
    def draining(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SharedLimits:
    """What every connection of one server shares: the limits that span connections."""

    connections: ConnectionTable
    bodies: BodyBudget
    slots: DecisionSlots
    # Answers a request that found no decision slot (an AdmissionReview denial with code 429).
    overloaded: Callable[..., Awaitable[None]]
    # The scope key that receives the loop time at which a request's headers were complete.
    arrival_key: str
    # The paths served without a decision slot (probes and metrics), from the routing table.
    exempt_paths: frozenset[str]
    # The scope key that receives the request's `Slot`: the application keeps it (`Slot.keep`)
    # past its answer while a worker still holds the request.
    keep_key: str = "kargo_rollback_webhook.keep_slot"
    # Answers a request whose body did not arrive within the body deadline; its first `receive`
    # returns the part that did. The application's refuses with the review's uid when it can.
    body_late: Callable[..., Awaitable[None]] | None = None
