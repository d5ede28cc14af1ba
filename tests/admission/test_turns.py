"""Whose large review the worker decides next (`app.admission.turns`): round robin over clients,
oldest first within one, a review that left before its turn skipped."""

from __future__ import annotations

import asyncio

from app.admission.turns import WorkerTurns, settle


def test_the_worker_goes_round_robin_over_clients_oldest_first() -> None:
    async def order() -> tuple[list[str], bool]:
        turns = WorkerTurns()
        turns.busy = True  # a job is running
        waiting = {name: turns.wait(name[0]) for name in ("a1", "a2", "a3", "a4", "b1", "c1", "b2")}
        waiting["a2"].cancel()  # left at its deadline, before its turn
        served: list[str] = []
        for _ in range(6):
            turns.hand_on()
            (name,) = [n for n, t in waiting.items() if t.done() and not t.cancelled()]
            served.append(name)
            del waiting[name]
        busy_before = turns.busy
        turns.hand_on()  # none left
        return served, busy_before and not turns.busy

    served, idle_at_last = asyncio.run(order())
    # One address's backlog (a1-a4) delays the others' next review by one of its own at most.
    assert served == ["a1", "b1", "c1", "a3", "b2", "a4"]
    assert idle_at_last


def test_settle_completes_a_future_once() -> None:
    async def twice() -> bool:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        settle(future)
        settle(future)  # an eviction after the turn was given: no InvalidStateError
        return future.done()

    assert asyncio.run(twice())
