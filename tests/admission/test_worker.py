"""The endpoint's decision worker (`app.admission.worker`): least-used client first, a decision
paused for a client that used the worker less and resumed afterwards, pauses bounded, and a
decision nobody waits for cut short. Real threads, real pause points and their real CPU time
(each decision below spins until released); a hand-set clock only for the decay of usage."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable

import pytest

from app.admission.worker import MAX_PAUSED, PREEMPT_MARGIN, USAGE_HALF_LIFE, Job, Worker, settle
from app.k8s.cooperative import pause
from tests.support.polling import until

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loop:
    """A decision that goes through pause points until released, counting them; between two,
    some work, as a policy's validation is."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = threading.Event()
        self.started = threading.Event()
        self.steps = 0

    def __call__(self, _: object) -> str:
        self.started.set()
        while not self.release.is_set():
            pause()
            sum(range(200))
            self.steps += 1
        return self.name


def going_on(job: Job) -> bool:
    return not job.control.paused


def instant(name: str) -> Callable[[object], str]:
    return lambda _: name


async def ran(job: Job, seconds: float) -> None:
    """Until `job`'s decision has taken `seconds` of CPU."""
    assert await until(lambda: job.control.cpu() >= seconds)


async def stands_still(decision: Loop) -> bool:
    """Whether `decision` makes no progress for a while (it is paused)."""
    await asyncio.sleep(0.02)
    before = decision.steps
    await asyncio.sleep(0.05)
    return decision.steps == before


async def use(worker: Worker, client: str, seconds: float) -> None:
    """`client` has the free worker for `seconds` of CPU."""
    decision = Loop(client)
    job = worker.enter(client)
    assert job.turn.done()
    done = worker.run(job, decision, None)
    await ran(job, seconds)
    decision.release.set()
    assert await done == client


async def start(worker: Worker, client: str) -> tuple[Job, Loop, asyncio.Future[str | None]]:
    """A spinning decision of `client`, given the worker at once."""
    decision = Loop(client)
    job = worker.enter(client)
    assert job.turn.done()
    done = worker.run(job, decision, None)
    await asyncio.to_thread(decision.started.wait, 5)
    return job, decision, done


async def test_the_least_used_client_goes_first_its_oldest_review_first() -> None:
    worker = Worker("test")
    _, first, running = await start(worker, "a")
    jobs = {name: worker.enter(name[0]) for name in ("a1", "a2", "a3", "b1", "c1", "b2")}
    worker.leave(jobs.pop("a2"))  # left at its deadline, before its turn
    # The first decision has taken next to no CPU: nobody pauses it.
    assert not any(job.turn.done() for job in jobs.values())
    first.release.set()
    assert await running == "a"
    served = []
    while jobs:
        (name,) = [name for name, job in jobs.items() if job.turn.done()]
        served.append(name)
        assert await worker.run(jobs.pop(name), instant(name), None) == name
    # "a" used the worker (a little): "b" and "c", which never had, go first; a review that
    # left is skipped; each client's reviews go oldest first.
    assert sorted(served[:2]) == ["b1", "c1"]
    assert sorted(served) == ["a1", "a3", "b1", "b2", "c1"]
    assert served.index("a1") < served.index("a3")
    assert served.index("b1") < served.index("b2")


async def test_a_client_that_used_the_worker_less_pauses_the_decision_under_way() -> None:
    worker = Worker("test")
    held, attacker, attack = await start(worker, "attacker")
    await ran(held, 2 * PREEMPT_MARGIN)
    ours = worker.enter("api-server")
    assert ours.turn.done()  # at once, not after the attacker's decision
    assert held.control.paused
    assert await stands_still(attacker)
    api_server = Loop("api-server")
    answer = worker.run(ours, api_server, None)
    await asyncio.to_thread(api_server.started.wait, 5)
    api_server.release.set()
    assert await answer == "api-server"
    # The attacker's decision goes on where it stopped (nothing of it is lost) and finishes.
    assert await until(functools.partial(going_on, held))
    steps = attacker.steps
    assert await until(lambda: attacker.steps > steps)
    attacker.release.set()
    assert await attack == "attacker"


async def test_a_client_that_used_the_worker_more_waits_and_the_least_used_goes_next() -> None:
    worker = Worker("test")
    await use(worker, "heavy", 0.3)
    await use(worker, "light", 0.1)
    job, first, running = await start(worker, "light")
    heavy = worker.enter("heavy")  # used more than "light": it waits
    await ran(job, PREEMPT_MARGIN)
    fresh = worker.enter("fresh")  # used nothing: "light" is paused for it
    assert fresh.turn.done()
    assert job.control.paused
    assert not heavy.turn.done()
    await worker.run(fresh, instant("fresh"), None)
    # Then the paused decision of "light" goes on, before "heavy", which used more.
    assert await until(functools.partial(going_on, job))
    assert not heavy.turn.done()
    first.release.set()
    assert await running == "light"
    assert await until(heavy.turn.done)
    assert await worker.run(heavy, instant("heavy"), None) == "heavy"


async def test_a_decision_is_paused_only_for_a_review_that_fits_and_for_so_many() -> None:
    worker = Worker("test")
    names = ["a", *(f"p{i}" for i in range(MAX_PAUSED))]
    jobs: dict[str, Job] = {}
    decisions: dict[str, Loop] = {}
    done: dict[str, asyncio.Future[str | None]] = {}
    jobs["a"], decisions["a"], done["a"] = await start(worker, "a")
    await ran(jobs["a"], 0.25)
    # A review that does not fit in memory beside those being decided waits, however light.
    too_large = worker.enter("light", fits=lambda: False)
    assert not too_large.turn.done()
    assert not jobs["a"].control.paused
    worker.leave(too_large)
    # Each new client pauses the one before it (that one has used more), up to MAX_PAUSED.
    for i, name in enumerate(names[1:]):
        jobs[name], decisions[name], done[name] = await start(worker, name)
        await ran(jobs[name], 0.2 - 0.05 * i)
    assert [name for name in names if jobs[name].control.paused] == names[:-1]
    last = worker.enter("last")  # used nothing, but MAX_PAUSED are paused: it waits
    assert not last.turn.done()
    decisions[names[-1]].release.set()
    assert await done[names[-1]] == names[-1]
    # The decision paused last goes on, and is paused again for "last", which used less.
    assert await until(last.turn.done)
    assert all(jobs[name].control.paused for name in names[:-1])
    assert await worker.run(last, instant("last"), None) == "last"
    # Then the paused ones, the last paused first.
    order = list(reversed(names[:-1]))
    for name in order:
        assert await until(functools.partial(going_on, jobs[name]))
        assert all(jobs[other].control.paused for other in order[order.index(name) + 1 :])
        decisions[name].release.set()
        assert await done[name] == name


async def test_a_waiting_client_pauses_the_decision_once_it_has_run_longer() -> None:
    """Usage grows while a decision runs: a client that used more than the one under way when
    it came pauses it once that one has caught up (a timer looks again)."""
    worker = Worker("test")
    await use(worker, "api-server", 0.2)
    job, decision, running = await start(worker, "attacker")
    ours = worker.enter("api-server")
    assert not ours.turn.done()  # 0.2 s used against next to nothing so far
    await asyncio.wait_for(ours.turn, 10)  # once the attacker's decision has taken 0.25 s
    assert job.control.cpu() >= 0.2  # caught up with the API server's (decayed a little)
    assert job.control.paused
    await worker.run(ours, instant("api-server"), None)
    decision.release.set()
    assert await running == "attacker"


async def test_usage_halves_with_time() -> None:
    clock = Clock()
    worker = Worker("test", clock=clock)
    await use(worker, "heavy", 0.4)
    clock.now += 2 * USAGE_HALF_LIFE  # 0.4 s of use, two half-lives ago: 0.1 s
    job, decision, running = await start(worker, "light")
    heavy = worker.enter("heavy")
    assert not heavy.turn.done()  # 0.1 s against next to nothing: it waits
    worker.leave(heavy)
    await ran(job, 0.2)
    ours = worker.enter("heavy")
    assert ours.turn.done()  # 0.1 s against 0.2 s: "light" is paused for it
    assert job.control.paused
    await worker.run(ours, instant("heavy"), None)
    decision.release.set()
    assert await running == "light"


async def test_an_abandoned_decision_is_cut_short_running_or_paused() -> None:
    worker = Worker("test")
    job_a, a, done_a = await start(worker, "a")
    await ran(job_a, 2 * PREEMPT_MARGIN)
    job_b, b, done_b = await start(worker, "b")
    assert job_a.control.paused
    worker.abandon(job_a)  # paused, and nobody waits for it any more
    assert await asyncio.wait_for(done_a, 5) is None
    worker.abandon(job_b)  # running
    assert await asyncio.wait_for(done_b, 5) is None
    assert not a.release.is_set()
    assert not b.release.is_set()
    after = worker.enter("c")  # the worker is free again
    assert after.turn.done()
    assert await worker.run(after, instant("c"), None) == "c"


async def test_a_job_given_the_worker_that_leaves_hands_it_on() -> None:
    worker = Worker("test")
    first = worker.enter("a")
    second = worker.enter("b")
    assert first.turn.done()
    assert not second.turn.done()
    worker.leave(first)  # given the worker, gone before it ran (its deadline)
    assert second.turn.done()
    assert await worker.run(second, instant("b"), None) == "b"


@pytest.mark.parametrize("times", [1, 2])
async def test_settle_completes_a_future_once(times: int) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for _ in range(times):
        settle(future)  # an eviction after the turn was given: no InvalidStateError
    assert future.done()
