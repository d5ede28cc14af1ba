"""Decision slots, the body budget and the connection table, in process and in the protocol.

The real server under slow, flooding and idle clients is tests/serving/test_overload.py; here
each rule is set up exactly: when a request takes a slot, what answers at capacity, which
connection is closed past a limit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from app.serving.body_budget import BodyBudget
from app.serving.concurrency import DecisionSlots
from app.serving.connections import (
    RANK_ARRIVING,
    RANK_HANDSHAKE,
    RANK_IDLE,
    RANK_STUCK,
    RANK_UNUSED,
    REASON_PER_CLIENT,
    REASON_TOTAL,
    ConnectionTable,
)
from tests.serving.uvicorn_seam.protocol import (
    ARRIVAL_KEY,
    HEAD,
    Connection,
    Flag,
    run,
    shared_limits,
)

# --- DecisionSlots -----------------------------------------------------------------------------


def test_slots_are_bounded_by_count_and_by_bytes() -> None:
    rejected: list[None] = []
    slots = DecisionSlots(limit=2, byte_limit=100, on_reject=lambda: rejected.append(None))
    first = slots.take(60, "a")
    assert first is not None
    assert slots.take(41, "b") is None  # 101 bytes: over the byte limit
    second = slots.take(40, "b")
    assert second is not None
    assert slots.take(0, "c") is None  # over the count
    assert len(rejected) == 2
    first.give_back()
    first.give_back()  # once only
    second.give_back()
    assert (slots.in_flight, slots.bytes_in_flight) == (0, 0)
    # A request alone always gets a slot, whatever its size.
    assert slots.take(1000) is not None


def test_a_client_holds_at_most_its_share_while_others_have_work() -> None:
    """Alone, a client may use each whole limit; once another client has a slot, each may hold
    half of the slots and of the bytes. Clients without work (idle connections from many
    addresses) do not count, so they cannot dilute a share."""
    slots = DecisionSlots(limit=4, byte_limit=100, on_reject=lambda: None, small_body_bytes=100)
    assert slots.take(70, "attacker") is not None
    assert slots.take(20, "attacker") is not None  # alone: the whole of each limit
    api = slots.take(5, "api-server")
    assert api is not None  # the first request of a client: the global limits alone
    assert slots.take(1, "attacker") is None  # 3 slots and 91 bytes: over its share of 2 and 50
    assert slots.take(5, "api-server") is not None  # within its share
    assert slots.held_by("attacker") == (2, 90)
    assert slots.held_by("api-server") == (2, 10)


def test_a_clients_byte_share_is_at_least_the_largest_body() -> None:
    """With ten clients holding slots a share is 10 bytes of 100; a client may still hold 60,
    its largest review beside a small one."""
    slots = DecisionSlots(
        limit=100, byte_limit=100, on_reject=lambda: None, min_byte_share=60, small_body_bytes=100
    )
    assert None not in [slots.take(1, f"other-{i}") for i in range(9)]
    assert slots.take(5, "api-server") is not None
    assert slots.take(55, "api-server") is not None
    assert slots.take(1, "api-server") is None  # 61: over the floor of its share


def test_waiting_large_bodies_make_room_for_another_clients_first() -> None:
    """Two attackers' large bodies wait for the worker and fill the waiting bytes. A third
    attacker, with a body as large, is refused (it would hold as much as either); the API
    server's smaller one evicts the newest body of the client waiting with the most, whose
    application learns it and answers 429. Bytes a worker has taken count as decided, not
    waiting."""
    rejected: list[None] = []
    evicted: list[int] = []
    slots = DecisionSlots(
        limit=100,
        byte_limit=100,
        on_reject=lambda: rejected.append(None),
        min_byte_share=60,
        small_body_bytes=10,
    )
    attackers = [slots.take(45, f"attacker-{i}") for i in range(2)]
    for i, slot in enumerate(attackers):
        assert slot is not None
        assert slot.waiting
        slot.wait(lambda i=i: evicted.append(i))  # type: ignore[misc]
    assert slots.take(45, "attacker-2") is None
    api = slots.take(30, "api-server")
    assert api is not None
    assert api.waiting
    assert evicted == [0]
    assert len(rejected) == 2  # the refused one and the evicted one
    first, second = attackers
    assert first is not None
    assert second is not None
    assert not first.start()  # evicted: never decided
    assert (slots.in_flight, slots.waiting_bytes, slots.bytes_in_flight) == (3, 75, 75)
    assert second.start()
    assert not second.waiting
    assert (slots.waiting_bytes, slots.bytes_in_flight) == (30, 75)
    big = slots.take(70, "attacker-2")  # the decided bytes leave room to wait
    assert big is not None
    for slot in (first, second, api, big):
        slot.give_back()
    assert (slots.in_flight, slots.waiting_bytes, slots.bytes_in_flight) == (0, 0, 0)
    assert slots.held_by("attacker-0") == (0, 0)


def test_a_waiting_body_is_evicted_only_once_its_application_waits() -> None:
    """A body whose application has not started waiting cannot be answered for: not evicted."""
    slots = DecisionSlots(limit=10, byte_limit=100, on_reject=lambda: None, small_body_bytes=10)
    assert slots.take(90, "attacker") is not None
    assert slots.take(20, "api-server") is None


def test_a_kept_slot_is_given_back_by_its_keeper_only() -> None:
    slots = DecisionSlots(limit=1, byte_limit=100, on_reject=lambda: None)
    slot = slots.take(50, "a")
    assert slot is not None
    release = slot.keep()
    assert slot.kept
    assert slots.take(1, "b") is None
    release()
    assert (slots.in_flight, slots.bytes_in_flight) == (0, 0)
    assert slots.held_by("a") == (0, 0)


@pytest.mark.parametrize(("limit", "byte_limit"), [(0, 1), (1, 0)])
def test_slot_limits_must_be_positive(limit: int, byte_limit: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DecisionSlots(limit=limit, byte_limit=byte_limit, on_reject=lambda: None)


# --- BodyBudget --------------------------------------------------------------------------------


@dataclass(eq=False)
class Body:
    evicted: list[str] = field(default_factory=list)

    def evict(self, reason: str) -> None:
        self.evicted.append(reason)


def test_the_body_that_began_arriving_first_is_dropped_past_the_budget() -> None:
    recorded: list[str] = []
    budget = BodyBudget(limit=100, on_evict=recorded.append)
    old, middle, young = Body(), Body(), Body()
    budget.update(old, 40)
    budget.update(middle, 40)
    budget.update(old, 50)  # growing does not make it younger
    assert budget.total == 90
    budget.update(young, 30)
    assert old.evicted == ["max-body-bytes-in-flight"]
    assert not middle.evicted
    assert not young.evicted
    assert (budget.total, len(budget)) == (70, 2)
    assert recorded == ["max-body-bytes-in-flight"]
    budget.release(middle)
    budget.release(middle)  # twice: the second is a no-op
    assert budget.total == 30


def test_one_body_alone_is_never_dropped_by_the_budget() -> None:
    budget = BodyBudget(limit=10, on_evict=lambda _: None)
    alone = Body()
    budget.update(alone, 1000)
    assert not alone.evicted


def test_small_bodies_have_bytes_of_their_own() -> None:
    """Two large bodies fill the byte limit; a small one still finds room, against a limit of
    the small ones' own."""
    slots = DecisionSlots(
        limit=100,
        byte_limit=100,
        on_reject=lambda: None,
        min_byte_share=1000,  # shares aside
        small_body_bytes=10,
    )
    large = [slots.take(49, "attacker-1"), slots.take(50, "attacker-2")]
    assert None not in large
    assert slots.take(11, "api-server") is None  # a large one: over the limit
    small = [slots.take(10, "api-server") for _ in range(10)]
    assert None not in small
    assert slots.take(10, "api-server") is None  # the small ones' own limit
    for slot in small:
        assert slot is not None
        slot.give_back()
    assert (slots.in_flight, slots.bytes_in_flight) == (2, 99)
    assert slots.take(1, "api-server") is not None


# --- ConnectionTable ---------------------------------------------------------------------------


@dataclass(eq=False)
class Held:
    rank: int | None
    evicted: list[str] = field(default_factory=list)

    def eviction_rank(self) -> int | None:
        return self.rank

    def evict(self, reason: str) -> None:
        self.evicted.append(reason)


def test_past_the_per_client_limit_the_clients_own_worst_connection_is_closed() -> None:
    table = ConnectionTable(max_total=100, max_per_client=3, on_evict=lambda _: None)
    busy, idle, slow = Held(None), Held(RANK_IDLE), Held(RANK_ARRIVING)
    other = Held(RANK_ARRIVING)
    table.add(other, "10.0.0.9")
    for conn in (busy, idle, slow):
        table.add(conn, "10.0.0.1")
    newcomer = Held(RANK_UNUSED)
    table.add(newcomer, "10.0.0.1")
    assert slow.evicted == [REASON_PER_CLIENT]  # a slow sender goes first
    assert [c.evicted for c in (busy, idle, newcomer, other)] == [[], [], [], []]
    assert len(table) == 4
    table.discard(slow, "10.0.0.1")  # its loss, reported later, changes nothing
    assert len(table) == 4


def test_past_the_total_the_biggest_client_pays_and_busy_connections_are_kept() -> None:
    table = ConnectionTable(max_total=4, max_per_client=10, on_evict=lambda _: None)
    api_server = [Held(RANK_IDLE), Held(None)]
    flooder = [Held(RANK_IDLE), Held(RANK_UNUSED)]
    for conn in api_server:
        table.add(conn, "10.0.0.1")
    for conn in flooder:
        table.add(conn, "10.0.0.66")
    table.add(Held(None), "10.0.0.66")
    # The flooder holds the most; of its connections, the never-used one goes before the idle.
    assert flooder[1].evicted == [REASON_TOTAL]
    assert not any(conn.evicted for conn in api_server)


def test_a_connection_still_in_its_handshake_is_closed_first_and_never_the_newcomer() -> None:
    table = ConnectionTable(max_total=100, max_per_client=3, on_evict=lambda _: None)
    stuck, handshaking, idle = Held(RANK_STUCK), Held(RANK_HANDSHAKE), Held(RANK_IDLE)
    for conn in (stuck, handshaking, idle):
        table.add(conn, "10.0.0.66")
    newcomer = Held(RANK_HANDSHAKE)  # itself in its handshake, as every newcomer is
    table.add(newcomer, "10.0.0.66")
    assert handshaking.evicted == [REASON_PER_CLIENT]
    assert [c.evicted for c in (stuck, idle, newcomer)] == [[], [], []]


def test_past_the_total_a_bigger_client_pays_when_the_biggest_is_all_busy() -> None:
    table = ConnectionTable(max_total=8, max_per_client=10, on_evict=lambda _: None)
    flooder = [Held(None) for _ in range(4)]  # every one of them being decided
    crowd = [Held(RANK_IDLE), Held(RANK_IDLE), Held(RANK_IDLE)]
    api_server = Held(RANK_IDLE)
    for conn in flooder:
        table.add(conn, "10.0.0.66")
    for conn in crowd:
        table.add(conn, "10.0.0.7")
    table.add(api_server, "10.0.0.1")
    newcomer = Held(RANK_HANDSHAKE)
    table.add(newcomer, "10.0.0.1")
    # Not the newcomer: one of the next biggest client's, which holds more than the newcomer's.
    assert crowd[0].evicted == [REASON_TOTAL]
    assert not newcomer.evicted
    assert not api_server.evicted
    # The flooder's own newcomer never makes room at the expense of a smaller client.
    flood_newcomer = Held(RANK_HANDSHAKE)
    table.add(flood_newcomer, "10.0.0.66")
    assert flood_newcomer.evicted == [REASON_TOTAL]
    assert not crowd[1].evicted
    assert not api_server.evicted


def test_when_every_other_connection_is_busy_the_newcomer_is_closed() -> None:
    table = ConnectionTable(max_total=2, max_per_client=2, on_evict=lambda _: None)
    table.add(Held(None), "a")
    table.add(Held(None), "a")
    newcomer = Held(RANK_UNUSED)
    table.add(newcomer, "a")
    assert newcomer.evicted == [REASON_PER_CLIENT]
    assert len(table) == 2


# --- in the protocol ---------------------------------------------------------------------------


def test_a_request_takes_a_slot_only_once_its_body_is_complete() -> None:
    async def scenario() -> None:
        conn = Connection(Flag(), shared_limits(slots=1))
        slots = conn.protocol.shared.slots
        conn.protocol.data_received(HEAD + b"{")
        await asyncio.sleep(0)
        assert (conn.requests, slots.in_flight) == (0, 0)  # no task, no slot
        assert conn.protocol.eviction_rank() == RANK_ARRIVING
        conn.protocol.data_received(b"}")
        await asyncio.sleep(0)
        assert (conn.requests, slots.in_flight) == (1, 1)
        assert conn.protocol.eviction_rank() is None  # being decided: never closed
        assert (await conn.answered()).startswith(b"http/1.1 200")
        assert slots.in_flight == 0
        assert conn.protocol.eviction_rank() == RANK_IDLE
        conn.close()

    run(scenario())


def test_at_capacity_the_overload_answer_replaces_the_application_and_probes_pass() -> None:
    async def scenario() -> None:
        rejected: list[None] = []
        shared = shared_limits(slots=1, rejected=rejected)
        first = Connection(Flag(), shared)
        first.protocol.data_received(HEAD + b"{}")
        await asyncio.sleep(0)
        assert first.requests == 1

        second = Connection(Flag(), shared)
        second.protocol.data_received(HEAD + b"{}")
        for _ in range(5):
            await asyncio.sleep(0)
        assert second.requests == 0
        assert bytes(second.transport.written).startswith(b"HTTP/1.1 429")
        assert len(rejected) == 1

        probe = Connection(Flag(), shared)
        probe.protocol.data_received(b"GET /readyz HTTP/1.1\r\nhost: webhook\r\n\r\n")
        assert (await probe.answered()).startswith(b"http/1.1 200")

        assert (await first.answered()).startswith(b"http/1.1 200")
        assert shared.slots.in_flight == 0
        for conn in (first, second, probe):
            conn.close()

    run(scenario())


def test_a_lost_connection_gives_its_slot_and_its_budget_back() -> None:
    async def scenario() -> None:
        shared = shared_limits()
        decided, arriving = Connection(Flag(), shared), Connection(Flag(), shared)
        decided.protocol.data_received(HEAD + b"{}")
        arriving.protocol.data_received(HEAD + b"{")
        await asyncio.sleep(0)
        assert (shared.slots.in_flight, shared.bodies.total) == (1, 1)
        assert len(shared.connections) == 2
        decided.close()
        arriving.close()
        assert (shared.slots.in_flight, shared.bodies.total) == (0, 0)
        assert len(shared.connections) == 0

    run(scenario())


def test_a_body_declared_over_the_limit_starts_the_application_at_once() -> None:
    async def scenario() -> None:
        conn = Connection(Flag(), shared_limits(), max_body_bytes=1000)
        conn.protocol.data_received(
            b"POST /x HTTP/1.1\r\nhost: webhook\r\ncontent-length: 5000\r\n\r\n{"
        )
        await asyncio.sleep(0)
        assert conn.started == 1  # to refuse it from its headers
        assert conn.protocol.shared.slots.in_flight == 0
        conn.close()

    run(scenario())


def test_expect_100_continue_is_answered_while_the_body_is_awaited() -> None:
    async def scenario() -> None:
        conn = Connection(Flag(), shared_limits())
        conn.protocol.data_received(
            b"POST /x HTTP/1.1\r\nhost: webhook\r\ncontent-length: 2\r\n"
            b"expect: 100-continue\r\n\r\n"
        )
        assert conn.transport.written == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.transport.written.clear()
        conn.protocol.data_received(b"{}")
        assert (await conn.answered()).startswith(b"http/1.1 200")
        conn.close()

    run(scenario())


def test_the_arrival_time_is_in_the_scope() -> None:
    async def scenario() -> None:
        conn = Connection(Flag(), shared_limits())
        before = asyncio.get_running_loop().time()
        conn.protocol.data_received(HEAD + b"{}")
        await asyncio.sleep(0)
        assert conn.scopes[0][ARRIVAL_KEY] >= before
        await conn.answered()
        conn.close()

    run(scenario())
