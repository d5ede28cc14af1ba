"""Whose large review an endpoint's one worker decides next: round robin over clients.

Large reviews are decided one at a time per endpoint (`AdmissionEndpoint._decide_large`). The
others wait in a queue per client (remote address), oldest first, and the worker takes the
oldest review of the next client in turn: a client that posts large reviews back to back delays
another client's next review by at most one of its own, whatever its backlog. First come, first
served let one address's queue hold the worker while the API server's review waited behind it.
"""

from __future__ import annotations

import asyncio
import collections


class WorkerTurns:
    """The worker's queue of waiting reviews, per client; only touched on the event loop."""

    __slots__ = ("_queues", "busy")

    def __init__(self) -> None:
        # Whether the worker has a job, or a waiting review has been given its turn.
        self.busy = False
        # Per client, its waiting reviews' turns, oldest first; clients in the order they go.
        self._queues: dict[str, collections.deque[asyncio.Future[None]]] = {}

    def wait(self, client: str) -> asyncio.Future[None]:
        """A turn for a review of `client`, completed when the worker is its (`hand_on`). Its
        holder cancels it when leaving before, and calls `hand_on` when leaving after."""
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(client, collections.deque()).append(turn)
        return turn

    def hand_on(self) -> None:
        """The worker is free: the next client in turn gets it for its oldest review (and goes
        to the back); with none waiting, the worker is idle."""
        queues = self._queues
        while queues:
            client = next(iter(queues))
            queue = queues.pop(client)
            while queue and queue[0].done():
                queue.popleft()  # left before its turn (deadline, eviction, connection gone)
            if not queue:
                continue
            turn = queue.popleft()
            if queue:
                queues[client] = queue
            turn.set_result(None)
            return
        self.busy = False


def settle(future: asyncio.Future[None]) -> None:
    """Complete `future` unless it is already (a waiting review evicted, see `Slot.wait`)."""
    if not future.done():
        future.set_result(None)
