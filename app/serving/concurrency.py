"""Decision slots: how many requests, and how many of their body bytes, are decided at once.

A request takes a slot only once its whole body has arrived (`uvicorn_seam` starts the
application then, not at the headers), so clients that are slow to send cannot hold slots: the
body budget (`body_budget`) and the connection limits (`connections`) deal with them by closing
their connections. What a slot bounds is the work and memory of decisions under way: at most
`limit` requests, and at most `byte_limit` bytes of their bodies in each pool below (a request
alone may always take a slot, whatever its size; `--max-body-bytes` bounds it). A request that
finds no slot is answered at once by the overload application the server is given: an
AdmissionReview that denies it with code 429 and asks the API server's client to retry, never a
5xx, which `failurePolicy: Ignore` would turn into an admission.

Fair shares: no client (remote address) holds more than its share of slots and of bytes while
other clients have work. A client's share is each limit divided by the number of clients that
hold slots now (connected but idle addresses do not count, so an attacker's many addresses do
not dilute anyone's share), and for bytes at least `min_byte_share` (the largest body accepted,
so that the API server's largest review is not refused because a few small ones of its own are
being decided); its first request of each pool is always admitted when the limits allow it, a
further one only within its share.

Three pools of bytes:
- Small bodies (at most `small_body_bytes`, decided on the event loop as soon as they are
  complete) count against a `byte_limit` of their own, so large ones never leave them no room.
- Large bodies wait for their endpoint's one worker. While waiting they are bytes the worker
  cannot use, so they count against a waiting `byte_limit`, not a decided one: attackers' large
  reviews waiting for the worker once held the whole budget, and the API server's own large
  review was refused with 429. When a large body does not fit, the waiting bodies of clients
  that wait with more bytes than the newcomer would are evicted, newest first, from the client
  that waits with the most (the application answers them 429 and a retry): one client's backlog
  makes room for another's first review, never the other way round.
- Once its worker takes a large body (`Slot.start`) it counts as decided. A worker decides one
  body at a time, and pauses it for another client's only while the bodies being decided,
  paused ones included, fit within `byte_limit` (`Slot.fits_decided`); so those bytes are at
  most `byte_limit`, or one largest body per endpoint.

A slot is given back when the answer has been written or the connection is gone, unless the
application keeps it (`Slot.keep`): a decision abandoned at its deadline still runs in its
worker, and its bytes stay counted until the worker has let go of them.

Probes and metrics are exempt: a loaded pod must not be restarted or lose its metrics because
it is loaded. Which paths those are the wiring says (`SharedLimits.exempt_paths`, from the
application's routes); the transport declares none of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, final

# What a slot's bytes count against: a small body's own pool, a large body waiting for its
# worker, a large body its worker has taken, and nothing any more (evicted while waiting).
_SMALL: Final = 0
_WAITING: Final = 1
_DECIDING: Final = 2
_EVICTED: Final = 3


@final
class Slot:
    """One request's slot: given back once, by its connection or by whoever kept it."""

    __slots__ = ("_on_evict", "_owner", "body_bytes", "client", "kept", "state")

    def __init__(self, owner: DecisionSlots, body_bytes: int, client: str, state: int) -> None:
        self._owner: DecisionSlots | None = owner
        self.body_bytes = body_bytes
        self.client = client
        self.state = state
        # Kept by the application past the answer: the connection no longer gives it back.
        self.kept = False
        # Set by the application while a large body waits for its worker: called when the
        # slot's waiting bytes are taken back to make room for another client's (module
        # docstring); the application then refuses the request with 429.
        self._on_evict: Callable[[], None] | None = None

    @property
    def waiting(self) -> bool:
        """Whether this is a large body that waits for its worker (and may be evicted)."""
        return self.state == _WAITING

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

    def wait(self, on_evict: Callable[[], None]) -> None:
        """The application waits for its worker: `on_evict` is called if this slot's waiting
        bytes are taken back for another client's review."""
        if self.state == _WAITING:
            self._on_evict = on_evict

    def evictable(self) -> bool:
        return self.state == _WAITING and self._on_evict is not None

    def start(self) -> bool:
        """The worker takes the body: its bytes count as decided from now on, and it can no
        longer be evicted. False if it was evicted meanwhile (it must not be decided)."""
        self._on_evict = None
        owner = self._owner
        if owner is None or self.state == _EVICTED:
            return False
        if self.state == _WAITING:
            owner.started(self)
        return True

    def fits_decided(self) -> bool:
        """Whether this body would fit beside the bodies being decided now within the byte
        limit: a decision is paused for another only then, as a paused one stays in memory."""
        owner = self._owner
        return owner is not None and owner.fits_decided(self.body_bytes)

    def evict(self) -> None:
        """Called by `DecisionSlots` only: the waiting bytes are no longer counted."""
        on_evict = self._on_evict
        self._on_evict = None
        self.state = _EVICTED
        if on_evict is not None:
            on_evict()


class DecisionSlots:
    """Requests being decided or answered: at most `limit`, with at most `byte_limit` body
    bytes in each pool, and per client at most its share (module docstring)."""

    __slots__ = (
        "_byte_limit",
        "_bytes",
        "_held",
        "_in_flight",
        "_limit",
        "_min_byte_share",
        "_on_reject",
        "_pools",
        "_small_body_bytes",
        "_waiters",
    )

    def __init__(
        self,
        *,
        limit: int,
        byte_limit: int,
        on_reject: Callable[[], None],
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
        # A client's share of bytes is never less: one review of the largest size beside a few
        # small ones of the same client (the API server's) must not be refused for its size.
        self._min_byte_share = min_byte_share
        # Bodies of at most this many bytes count against a byte limit of their own (module
        # docstring); -1: none do.
        self._small_body_bytes = small_body_bytes
        # Only touched on the event loop: no lock needed.
        self._in_flight = 0
        self._bytes = 0
        # [requests, bytes] per state (_SMALL, _WAITING, _DECIDING; _EVICTED counts nothing).
        self._pools = [[0, 0], [0, 0], [0, 0]]
        # Per client with a slot: [slots, bytes of small and decided bodies, waiting bytes].
        self._held: dict[str, list[int]] = {}
        # Per client: its large bodies waiting for their worker, oldest first.
        self._waiters: dict[str, list[Slot]] = {}

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def bytes_in_flight(self) -> int:
        return self._bytes

    @property
    def waiting_bytes(self) -> int:
        """Bytes of large bodies waiting for their worker."""
        return self._pools[_WAITING][1]

    def fits_decided(self, body_bytes: int) -> bool:
        """Whether `body_bytes` more of large bodies being decided stay within the byte limit."""
        return self._pools[_DECIDING][1] + body_bytes <= self._byte_limit

    def held_by(self, client: str) -> tuple[int, int]:
        """(slots, bytes) `client` holds."""
        held = self._held.get(client)
        return (held[0], held[1] + held[2]) if held is not None else (0, 0)

    def take(self, body_bytes: int, client: str = "") -> Slot | None:
        """A slot for a request of `client` whose body has `body_bytes`; None at capacity or
        past the client's share."""
        state = _SMALL if body_bytes <= self._small_body_bytes else _WAITING
        pool = self._pools[state]
        held = self._held.get(client)
        if self._in_flight >= self._limit:
            self._on_reject()
            return None
        if held is not None:
            # Shares are over the clients that have work now, not over those connected: idle
            # connections from more addresses do not dilute anyone's share.
            active = len(self._held)
            mine = held[2] if state == _WAITING else held[1]
            if held[0] + 1 > max(self._limit // active, 1) or (
                mine > 0
                and mine + body_bytes > max(self._byte_limit // active, self._min_byte_share)
            ):
                self._on_reject()
                return None
        if (
            pool[0] > 0
            and pool[1] + body_bytes > self._byte_limit
            and (state == _SMALL or not self._make_room(client, held, body_bytes))
        ):
            self._on_reject()
            return None
        if held is None:
            held = self._held[client] = [0, 0, 0]
        held[0] += 1
        held[2 if state == _WAITING else 1] += body_bytes
        pool[0] += 1
        pool[1] += body_bytes
        self._in_flight += 1
        self._bytes += body_bytes
        slot = Slot(self, body_bytes, client, state)
        if state == _WAITING:
            self._waiters.setdefault(client, []).append(slot)
        return slot

    def _make_room(self, client: str, held: list[int] | None, body_bytes: int) -> bool:
        """Evict waiting bodies of the clients that wait with the most bytes, as long as each
        holds more waiting bytes than `client` would with this body; whether it fits then."""
        pool = self._pools[_WAITING]
        mine = (held[2] if held is not None else 0) + body_bytes
        while pool[0] > 0 and pool[1] + body_bytes > self._byte_limit:
            victim: Slot | None = None
            most = mine
            for other, waiters in self._waiters.items():
                waiting = self._held[other][2]
                if other != client and waiting > most:
                    newest = next((s for s in reversed(waiters) if s.evictable()), None)
                    if newest is not None:
                        victim, most = newest, waiting
            if victim is None:
                return False
            self._on_reject()
            self._unwait(victim)
            self._uncount(victim)
            victim.evict()
        return True

    def _unwait(self, slot: Slot) -> None:
        waiters = self._waiters.get(slot.client)
        if waiters is not None:
            waiters.remove(slot)
            if not waiters:
                del self._waiters[slot.client]

    def _uncount(self, slot: Slot) -> None:
        """Take a slot's bytes out of its pool and its client's (the slot itself still counts)."""
        pool = self._pools[slot.state]
        pool[0] -= 1
        pool[1] -= slot.body_bytes
        self._bytes -= slot.body_bytes
        held = self._held.get(slot.client)
        if held is not None:
            held[2 if slot.state == _WAITING else 1] -= slot.body_bytes

    def started(self, slot: Slot) -> None:
        """Called by `Slot.start` only: its bytes move from waiting to decided."""
        self._unwait(slot)
        self._uncount(slot)
        slot.state = _DECIDING
        pool = self._pools[_DECIDING]
        pool[0] += 1
        pool[1] += slot.body_bytes
        self._bytes += slot.body_bytes
        held = self._held.get(slot.client)
        if held is not None:
            held[1] += slot.body_bytes

    def release(self, slot: Slot) -> None:
        """Called by `Slot.give_back` only."""
        self._in_flight -= 1
        if slot.state == _WAITING:
            self._unwait(slot)
        if slot.state != _EVICTED:
            self._uncount(slot)
        held = self._held.get(slot.client)
        if held is not None:
            held[0] -= 1
            if held[0] <= 0:
                del self._held[slot.client]
