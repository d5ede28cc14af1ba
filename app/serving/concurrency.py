"""Decision slots: how many requests, and how many of their body bytes, are decided at once.

A request takes a slot only once its whole body has arrived (`uvicorn_seam` starts the
application then, not at the headers), so clients that are slow to send cannot hold slots: the
body budget (`body_budget`) and the connection limits (`connections`) deal with them by closing
their connections. What a slot bounds is the work and memory of decisions under way: at most
`limit` requests, and at most `byte_limit` bytes of their bodies (a request alone may always
take a slot, whatever its size; `--max-body-bytes` bounds it). A request that finds no slot is
answered at once by the overload application the server is given: an AdmissionReview that
denies it with code 429 and asks the API server's client to retry, never a 5xx, which
`failurePolicy: Ignore` would turn into an admission.

Fair shares: no client (remote address) holds more than its share of slots and of bytes while
other clients are connected. A client's share is each limit divided by the number of clients
with open connections, and for bytes at least `min_byte_share` (the largest body accepted, so
that the API server's largest review is not refused because a few small ones of its own are
being decided); its first request is always admitted when the limits allow it, a further one
only within its share. So a client that posts the largest reviews back to back gets one
decided at a time, and the API server's calls, on connections of their own, find room: the
bytes a flood could hold are at most its share, not the whole budget.

Small bodies have bytes of their own: bodies of at most `small_body_bytes` (those decided on
the event loop, one at a time, as soon as they are complete) count against a second
`byte_limit`, apart from the larger ones (decided in a worker, and queued for it). Reviews sized
so that two of them fill the byte limit, posted from four addresses, once had every one of the
API server's small reviews refused (12 of 12); with the larger bodies kept apart, its reviews
always find room. The larger ones still share one `byte_limit`: a client's own large review
waits for room as before.

A slot is given back when the answer has been written or the connection is gone, unless the
application keeps it (`Slot.keep`): a decision abandoned at its deadline still runs in its
worker, and its bytes stay counted until the worker has let go of them.

Probes and metrics are exempt: a loaded pod must not be restarted or lose its metrics because
it is loaded. Which paths those are the wiring says (`SharedLimits.exempt_paths`, from the
application's routes); the transport declares none of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import final


def _one() -> int:
    return 1


@final
class Slot:
    """One request's slot: given back once, by its connection or by whoever kept it."""

    __slots__ = ("_owner", "body_bytes", "client", "kept")

    def __init__(self, owner: DecisionSlots, body_bytes: int, client: str) -> None:
        self._owner: DecisionSlots | None = owner
        self.body_bytes = body_bytes
        self.client = client
        # Kept by the application past the answer: the connection no longer gives it back.
        self.kept = False

    def give_back(self) -> None:
        """Free the slot; a second call does nothing."""
        owner = self._owner
        if owner is not None:
            self._owner = None
            owner.release(self)

    def keep(self) -> Callable[[], None]:
        """Keep the slot past the answer; call what is returned when the work has let go."""
        self.kept = True
        return self.give_back


class DecisionSlots:
    """Requests being decided or answered: at most `limit`, with at most `byte_limit` body
    bytes, and per client at most its share of each (module docstring)."""

    __slots__ = (
        "_byte_limit",
        "_bytes",
        "_clients",
        "_held",
        "_in_flight",
        "_large",
        "_limit",
        "_min_byte_share",
        "_on_reject",
        "_small",
        "_small_body_bytes",
    )

    def __init__(
        self,
        *,
        limit: int,
        byte_limit: int,
        on_reject: Callable[[], None],
        clients: Callable[[], int] = _one,
        min_byte_share: int = 0,
        small_body_bytes: int = -1,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if byte_limit < 1:
            raise ValueError(f"byte_limit must be at least 1, got {byte_limit}")
        self._limit = limit
        self._byte_limit = byte_limit
        self._on_reject = on_reject
        # How many clients have connections open (the connection table's count).
        self._clients = clients
        # A client's share of bytes is never less: one review of the largest size beside a few
        # small ones of the same client (the API server's) must not be refused for its size.
        self._min_byte_share = min_byte_share
        # Bodies of at most this many bytes count against a byte limit of their own (module
        # docstring); -1: none do.
        self._small_body_bytes = small_body_bytes
        # Only touched on the event loop: no lock needed.
        self._in_flight = 0
        self._bytes = 0
        # [requests, bytes] of small bodies and of larger ones.
        self._small = [0, 0]
        self._large = [0, 0]
        # Per client: [slots, bytes] it holds.
        self._held: dict[str, list[int]] = {}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def bytes_in_flight(self) -> int:
        return self._bytes

    def held_by(self, client: str) -> tuple[int, int]:
        """(slots, bytes) `client` holds."""
        held = self._held.get(client)
        return (held[0], held[1]) if held is not None else (0, 0)

    def take(self, body_bytes: int, client: str = "") -> Slot | None:
        """A slot for a request of `client` whose body has `body_bytes`; None at capacity or
        past the client's share."""
        pool = self._small if body_bytes <= self._small_body_bytes else self._large
        if self._in_flight >= self._limit or (
            pool[0] > 0 and pool[1] + body_bytes > self._byte_limit
        ):
            self._on_reject()
            return None
        held = self._held.get(client)
        if held is not None:
            clients = max(self._clients(), 1)
            if held[0] + 1 > max(self._limit // clients, 1) or held[1] + body_bytes > max(
                self._byte_limit // clients, self._min_byte_share
            ):
                self._on_reject()
                return None
        else:
            held = self._held[client] = [0, 0]
        held[0] += 1
        held[1] += body_bytes
        pool[0] += 1
        pool[1] += body_bytes
        self._in_flight += 1
        self._bytes += body_bytes
        return Slot(self, body_bytes, client)

    def release(self, slot: Slot) -> None:
        """Called by `Slot.give_back` only."""
        self._in_flight -= 1
        self._bytes -= slot.body_bytes
        pool = self._small if slot.body_bytes <= self._small_body_bytes else self._large
        pool[0] -= 1
        pool[1] -= slot.body_bytes
        held = self._held.get(slot.client)
        if held is not None:
            held[0] -= 1
            held[1] -= slot.body_bytes
            if held[0] <= 0:
                del self._held[slot.client]
