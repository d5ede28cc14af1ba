"""An endpoint's decision worker: large reviews decided one at a time, fairly between clients.

Reviews over 64 KiB are decoded, decided and encoded in a worker thread (`AdmissionEndpoint`),
one at a time per endpoint: the work is CPU-bound under the GIL, so deciding several at once
would finish none sooner and hold more of them in memory. Which one runs is chosen here, on the
event loop:

- Each client (remote address) has a usage: the CPU seconds its decisions took in the worker
  (`Control.cpu`: not the time they waited for the GIL or were paused), halving every
  `USAGE_HALF_LIFE` seconds.
- A free worker takes the oldest waiting review of the client with the least usage; clients
  with equal usage go in turn.
- A review whose client has used the worker less, by `PREEMPT_MARGIN`, than the client of the
  decision under way does not wait for it: that decision is paused at its next pause point
  (`app.k8s.cooperative`), the newcomer's runs, and the paused one goes on as soon as that
  ends (the last paused first), before any waiting review. A paused decision keeps its
  decision slot and its review in memory, so a decision is paused only when the newcomer's
  review fits beside those being decided within `--max-decision-bytes` (`Job.fits`), and for
  at most `MAX_PAUSED` at a time.
- A decision nobody waits for any more (its deadline passed) is cut short at its next pause
  point (`abandon`); its slot is kept until the thread has let go of it.

An attacker that keeps the worker busy with the largest reviews from several addresses piles up
usage on each of them; the API server, whose large reviews are rare, has its own decided at once
instead of after a few seconds of theirs (tests/serving/test_abuse.py).

The decisions run with the cyclic garbage collector off: decoding a large review allocates
millions of containers, which set off full collections that hold the GIL for a tenth of a second
each; decoded JSON has no cycles, and reference counting frees it.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Final, TypeVar, final

from app.k8s.cooperative import Control, run_under

_A = TypeVar("_A")
_R = TypeVar("_R")

# Usage halves in this many seconds: an attack of a few seconds is remembered, a large review
# of the API server's a minute ago hardly.
USAGE_HALF_LIFE: Final = 10.0
_DECAY: Final = math.log(2) / USAGE_HALF_LIFE
# A decision under way is paused for another client's review only when that client has used the
# worker at least this much less: two clients alike never take the worker from each other.
PREEMPT_MARGIN: Final = 0.05
# Decisions paused at once per worker, at most (each holds a thread, and its review in memory,
# which `Job.fits` bounds too).
MAX_PAUSED: Final = 3
# Usage below this is forgotten, once more than `_REMEMBERED` clients are remembered.
_NEGLIGIBLE: Final = 0.001
_REMEMBERED: Final = 64

# Where a job is.
_WAITING: Final = 0  # in its client's queue
_READY: Final = 1  # given the worker, its thread not started yet
_RUNNING: Final = 2
_PAUSED: Final = 3
_DONE: Final = 4  # ended, or left before it ran


def _always() -> bool:
    return True


@final
class Job:
    """One large review's claim on the worker. `turn` completes when the worker is its."""

    __slots__ = ("charged", "client", "control", "fits", "state", "turn")

    def __init__(self, client: str, turn: asyncio.Future[None], fits: Callable[[], bool]) -> None:
        self.client = client
        self.turn = turn
        # Whether its review fits in memory beside the decisions under way and paused now.
        self.fits = fits
        self.state = _WAITING
        self.control = Control()
        # The CPU seconds of its decision already added to its client's usage.
        self.charged = 0.0


@final
class _Usage:
    __slots__ = ("stamp", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.stamp = 0.0


@final
class Worker:
    """The decision worker of one endpoint; every method runs on the event loop."""

    __slots__ = (
        "_clock",
        "_executor",
        "_name",
        "_paused",
        "_queues",
        "_recheck",
        "_running",
        "_usage",
    )

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._name = name
        # What usage decays by.
        self._clock = clock
        self._executor: Executor | None = None
        # The job that has the worker (ready or running), and those paused, oldest first.
        self._running: Job | None = None
        self._paused: list[Job] = []
        # Per client, its waiting jobs, oldest first; clients in the order they go on a tie.
        self._queues: dict[str, collections.deque[Job]] = {}
        self._usage: dict[str, _Usage] = {}
        # A timer that looks again whether a waiting client may now pause the running decision.
        self._recheck: asyncio.TimerHandle | None = None

    def enter(self, client: str, fits: Callable[[], bool] = _always) -> Job:
        """A job for a review of `client`: given the worker at once when it is free or when the
        decision under way may be paused for it, else queued (module docstring). `fits` says
        whether the review fits in memory beside the decisions under way and paused."""
        job = Job(client, asyncio.get_running_loop().create_future(), fits)
        running = self._running
        if running is None:
            self._give(job)
        elif self._may_pause_for(job, running, self._clock()):
            self._pause_running()
            self._give(job)
        else:
            self._queues.setdefault(client, collections.deque()).append(job)
            if self._recheck is not None:  # timed for another client: this one may come sooner
                self._recheck.cancel()
                self._recheck = None
            self._watch()
        return job

    def run(self, job: Job, decide: Callable[[_A], _R], argument: _A) -> asyncio.Future[_R | None]:
        """Run `decide(argument)` in the worker for `job` (given the worker); the future holds
        its result, or None when it was cut short."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                MAX_PAUSED + 1, thread_name_prefix=f"decide-{self._name}"
            )
        job.state = _RUNNING
        future = loop.run_in_executor(self._executor, _collector_off, job.control, decide, argument)
        future.add_done_callback(lambda _: self._finished(job))
        return future

    def leave(self, job: Job) -> None:
        """`job` leaves before it ran (deadline, eviction): its turn passes on, or it is
        skipped when its client's turn comes."""
        if job.state == _READY:
            job.state = _DONE
            self._running = None
            self._next()
        elif job.state == _WAITING:
            job.state = _DONE
            job.turn.cancel()

    def abandon(self, job: Job) -> None:
        """Nobody waits for `job`'s answer: cut it short at its next pause point."""
        if job.state in (_RUNNING, _PAUSED):
            job.control.stop()

    def _finished(self, job: Job) -> None:
        if job is self._running:
            self._charge(job, self._clock())
            self._running = None
        elif job in self._paused:  # cut short while paused
            self._paused.remove(job)
        job.state = _DONE
        self._next()

    def _give(self, job: Job) -> None:
        job.state = _READY
        self._running = job
        job.turn.set_result(None)

    def _pause_running(self) -> None:
        running = self._running
        assert running is not None
        self._charge(running, self._clock())
        running.control.pause()
        running.state = _PAUSED
        self._paused.append(running)
        self._running = None

    def _next(self) -> None:
        """The worker is free: the decision paused last goes on (the one it was paused for
        has ended, and its memory is freed sooner), else the least-used waiting client's oldest
        review is given the worker."""
        if self._running is not None:
            return
        resume = next((job for job in reversed(self._paused) if not job.control.stopped), None)
        if resume is not None:
            self._paused.remove(resume)
            self._running = resume
            resume.state = _RUNNING
            resume.control.resume()
        else:
            client, _ = self._least_used_waiting(self._clock())
            if client is not None:
                self._give(self._take_oldest(client))
        self._watch()

    def _take_oldest(self, client: str) -> Job:
        """`client`'s oldest waiting job, out of its queue; the client goes to the back, so that
        the next on a tie is another client."""
        queue = self._queues.pop(client)
        job = queue.popleft()
        if queue:
            self._queues[client] = queue
        return job

    def _least_used_waiting(
        self, now: float, besides: str | None = None
    ) -> tuple[str | None, float]:
        """The waiting client with the least usage (the first in turn on a tie), other than
        `besides`, and its usage; jobs that left are dropped on the way."""
        best: str | None = None
        best_used = 0.0
        empty: list[str] = []
        for client, queue in self._queues.items():
            while queue and queue[0].state == _DONE:
                queue.popleft()
            if not queue:
                empty.append(client)
                continue
            if client == besides:
                continue
            used = self._used(client, now)
            if best is None or used < best_used:
                best, best_used = client, used
        for client in empty:
            del self._queues[client]
        return best, best_used

    def _may_pause_for(self, job: Job, running: Job, now: float) -> bool:
        """Whether `running` may be paused for `job`: another client's decision under way,
        whose client has used the worker more, by the margin; room for one more paused; and
        `job`'s review fits in memory beside them."""
        if (
            running.state != _RUNNING
            or running.control.stopped
            or running.client == job.client
            or len(self._paused) >= MAX_PAUSED
        ):
            return False
        running_used = self._running_used(running, now)
        return self._used(job.client, now) + PREEMPT_MARGIN <= running_used and job.fits()

    def _running_used(self, running: Job, now: float) -> float:
        """The usage of `running`'s client, with what its decision took since last charged."""
        return self._used(running.client, now) + (running.control.cpu() - running.charged)

    def _watch(self) -> None:
        """Look again, when it may come, whether the least-used waiting client may pause the
        decision under way (usage grows while a decision runs)."""
        running = self._running
        if self._recheck is not None or running is None or len(self._paused) >= MAX_PAUSED:
            return
        now = self._clock()
        client, used = self._least_used_waiting(now, running.client)
        if client is None:
            return
        delay = max(used + PREEMPT_MARGIN - self._running_used(running, now), PREEMPT_MARGIN)
        self._recheck = asyncio.get_running_loop().call_later(delay, self._reconsider)

    def _reconsider(self) -> None:
        self._recheck = None
        running = self._running
        if running is None:
            return
        now = self._clock()
        client, _ = self._least_used_waiting(now, running.client)
        if client is None:
            return
        if self._may_pause_for(self._queues[client][0], running, now):
            self._pause_running()
            self._give(self._take_oldest(client))
        self._watch()

    def _used(self, client: str, now: float) -> float:
        usage = self._usage.get(client)
        if usage is None:
            return 0.0
        return usage.value * math.exp((usage.stamp - now) * _DECAY)

    def _charge(self, job: Job, now: float) -> None:
        """Add the CPU seconds `job`'s decision took since it was last charged to its client's
        usage."""
        usage = self._usage.get(job.client)
        if usage is None:
            if len(self._usage) >= _REMEMBERED:
                self._forget(now)
            usage = self._usage[job.client] = _Usage()
        ran = job.control.cpu()
        usage.value = self._used(job.client, now) + max(ran - job.charged, 0.0)
        job.charged = ran
        usage.stamp = now

    def _forget(self, now: float) -> None:
        busy = {job.client for job in (self._running, *self._paused) if job is not None}
        for client in [c for c in self._usage if c not in busy and c not in self._queues]:
            if self._used(client, now) < _NEGLIGIBLE:
                del self._usage[client]


@final
class _Collector:
    """How many decisions run with the cyclic collector off, and whether it was on before."""

    __slots__ = ("lock", "off", "was_on")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.off = 0
        self.was_on = False


_COLLECTOR: Final = _Collector()


def _collector_off(control: Control, decide: Callable[[_A], _R], argument: _A) -> _R | None:
    """`run_under(control, decide, argument)` with the cyclic collector off (module
    docstring); on again when the last of the decisions running so has ended."""
    collector = _COLLECTOR
    with collector.lock:
        if collector.off == 0:
            collector.was_on = gc.isenabled()
            gc.disable()
        collector.off += 1
    try:
        return run_under(control, decide, argument)
    finally:
        with collector.lock:
            collector.off -= 1
            if collector.off == 0 and collector.was_on:
                gc.enable()


def settle(future: asyncio.Future[None]) -> None:
    """Complete `future` unless it is already (a waiting review evicted, see `Slot.wait`)."""
    if not future.done():
        future.set_result(None)
