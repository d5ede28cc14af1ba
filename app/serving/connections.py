"""How many connections the server holds, overall and per client, and whom to close past that.

An idle TLS connection costs about 50 kB, so without a cap a client that opens connections and
never uses them reaches the chart's memory limit (256Mi) at about 4,000. Refusing the newest
connection would let that client lock the API server out; so the newcomer is admitted and an
older connection is closed instead, chosen so that the abuser pays:

- past `max_per_client` connections from one address, one of that client's own;
- past `max_connections` in all, one of the client that holds the most connections.

Connections are counted from accept, before their TLS handshake. Within the chosen client, by
rank (`HeldConnection.eviction_rank`): first a connection still in its handshake (it has asked
for nothing, and a flood of silent connections is made of these), then one whose
answer cannot be written because its client does not read (`write_stall`), then one whose
request head or body is still arriving (a slow client), then one that never carried a request,
then one idle after an answer (the API server's parked keep-alive connections, which it may be
about to reuse), oldest first within a rank. A connection whose request is being decided or
answered is never closed: that would fail a call the API server made. Past `max_connections`,
when every connection of the client holding the most is busy, one of another client holding
more than the newcomer's goes instead (the most connections first); only when every candidate is
busy is the newcomer itself closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Protocol

# Ranks of `HeldConnection.eviction_rank`, lowest closed first.
RANK_HANDSHAKE: Final = 0
RANK_STUCK: Final = 1
RANK_ARRIVING: Final = 2
RANK_UNUSED: Final = 3
RANK_IDLE: Final = 4

REASON_PER_CLIENT: Final = "max-connections-per-client"
REASON_TOTAL: Final = "max-connections"


class HeldConnection(Protocol):
    """A connection as the table sees it (the uvicorn protocol in production)."""

    def eviction_rank(self) -> int | None:
        """`RANK_*`, or None while a request on it is being decided or answered."""
        ...

    def evict(self, reason: str) -> None:
        """Close the connection, now."""
        ...


class ConnectionTable:
    """The open connections by client address; closes one when a limit is passed."""

    __slots__ = ("_clients", "_count", "_max_per_client", "_max_total", "_on_evict")

    def __init__(
        self, *, max_total: int, max_per_client: int, on_evict: Callable[[str], None]
    ) -> None:
        if max_total < 1 or max_per_client < 1:
            raise ValueError("connection limits must be at least 1")
        self._max_total = max_total
        self._max_per_client = max_per_client
        self._on_evict = on_evict
        # Insertion-ordered: oldest connection first within each client.
        self._clients: dict[str, dict[HeldConnection, None]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def clients(self) -> int:
        """How many clients (addresses) have connections open."""
        return len(self._clients)

    def add(self, connection: HeldConnection, client: str) -> None:
        """Count a new connection; past a limit, close one (maybe this one)."""
        held = self._clients.get(client)
        if held is None:
            held = self._clients[client] = {}
        held[connection] = None
        self._count += 1
        if len(held) > self._max_per_client:
            victim = self._pick(held, connection)
            self._evict(client, connection if victim is None else victim, REASON_PER_CLIENT)
        if self._count > self._max_total:
            self._evict_for_total(connection, client)

    def discard(self, connection: HeldConnection, client: str) -> None:
        """Forget a closed connection (a no-op if it was evicted, and so forgotten, already)."""
        held = self._clients.get(client)
        if held is None or connection not in held:
            return
        del held[connection]
        self._count -= 1
        if not held:
            del self._clients[client]

    def close(self, connection: HeldConnection, client: str, reason: str) -> None:
        """Close `connection` for a limit of its own (`reason`), counted as evictions are."""
        self.discard(connection, client)
        self._on_evict(reason)
        connection.evict(reason)

    def _evict_for_total(self, newcomer: HeldConnection, newcomer_client: str) -> None:
        """Past `max_total`: one of the client holding the most; when every one of its
        connections is busy, one of another client holding more than the newcomer's (the most
        first), so that a client never makes room for itself at a smaller one's expense; only
        when every candidate is busy, the newcomer."""
        biggest = max(self._clients, key=lambda name: len(self._clients[name]))
        victim = self._pick(self._clients[biggest], newcomer)
        if victim is not None:
            self._evict(biggest, victim, REASON_TOTAL)
            return
        mine = self._clients.get(newcomer_client)
        own = len(mine) if mine is not None else 0
        for name in sorted(self._clients, key=lambda name: -len(self._clients[name])):
            if len(self._clients[name]) <= own:
                break
            if name != biggest:
                victim = self._pick(self._clients[name], newcomer)
                if victim is not None:
                    self._evict(name, victim, REASON_TOTAL)
                    return
        self._evict(newcomer_client, newcomer, REASON_TOTAL)

    @staticmethod
    def _pick(held: dict[HeldConnection, None], newcomer: HeldConnection) -> HeldConnection | None:
        """The connection of `held` to close first (lowest rank, oldest), None if all are busy."""
        victim: HeldConnection | None = None
        best: int | None = None
        for connection in held:
            if connection is newcomer:
                continue
            rank = connection.eviction_rank()
            if rank is not None and (best is None or rank < best):
                victim, best = connection, rank
                if rank == RANK_HANDSHAKE:
                    break
        return victim

    def _evict(self, client: str, victim: HeldConnection, reason: str) -> None:
        # Forgotten before it is closed: a TLS connection reports its loss only later, and the
        # next newcomer must not count it (nor pick it) again.
        self.discard(victim, client)
        self._on_evict(reason)
        victim.evict(reason)
