"""Pauses in long validations: the event loop gets the GIL, and a worker's decision can be
paused, resumed or cut short there.

A review over 64 KiB is decoded and decided in a worker thread, so that the event loop goes on
answering the API server's other calls meanwhile. But a thread that holds the GIL gives it up
only when the interpreter asks it to, after its switch interval (5 ms) and at the next point
compiled code lets it; the event loop takes dozens of short turns to answer one review, and
waited that long for each of them while an attacker kept the worker busy. `pause()` is called
once per item of the loops that grow with the object (policies, windows, labels, errors);
every `PAUSE_EVERY` calls it lets the GIL go (`time.sleep(0)`), so the loop waits about a
millisecond for a turn instead of six (tests/k8s/test_cooperative.py).

The same points are where a decision run under a `Control` (`run_under`) stops when its
scheduler asks: paused until resumed, so that another client's review can be decided first, or
cut short once nobody waits for its answer. The rules themselves never see any of this: at a
pause they either go on or never return (`Interrupted` unwinds them, and is no `Exception`,
so no handler of theirs can take it for a fault).
Measured: see docs/serving.md, "Slow, flooding and idle clients".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar, final

# Items validated between pauses: a policy takes about 10-25 microseconds to validate.
PAUSE_EVERY: Final = 32

_A = TypeVar("_A")
_R = TypeVar("_R")

# What a controlled decision does at its next pause.
_RUN: Final = 0
_PAUSE: Final = 1
_STOP: Final = 2


class Interrupted(BaseException):
    """A controlled decision was cut short at a pause (`Control.stop`)."""


@final
class Control:
    """How one decision in a worker thread goes on: set from the event loop, obeyed by the
    thread at its next pause."""

    __slots__ = ("_cpu_at_start", "_go", "_ran", "_thread_id", "state")

    def __init__(self) -> None:
        self.state = _RUN
        self._go = threading.Event()
        self._go.set()
        # The thread running the decision, and its CPU time when the decision started; once
        # it has ended, the CPU seconds it took.
        self._thread_id: int | None = None
        self._cpu_at_start = 0.0
        self._ran = 0.0

    def started(self) -> None:
        """In the decision's thread, as it starts."""
        self._cpu_at_start = time.thread_time()
        self._thread_id = threading.get_ident()

    def ended(self) -> None:
        """In the decision's thread, as it ends."""
        self._ran = time.thread_time() - self._cpu_at_start
        self._thread_id = None

    def cpu(self) -> float:
        """CPU seconds the decision has taken so far (its thread's; nothing while paused or
        waiting for the GIL), from any thread."""
        thread = self._thread_id
        if thread is None:
            return self._ran
        try:
            now = time.clock_gettime(time.pthread_getcpuclockid(thread))
        except OSError:  # pragma: no cover - the thread ended between the two reads
            return self._ran
        return now - self._cpu_at_start

    def pause(self) -> None:
        """Stop at the next pause until `resume` or `stop`."""
        self._go.clear()
        self.state = _PAUSE

    def resume(self) -> None:
        if self.state == _PAUSE:
            self.state = _RUN
        self._go.set()

    def stop(self) -> None:
        """Cut short at the next pause (resuming a paused one to unwind)."""
        self.state = _STOP
        self._go.set()

    @property
    def paused(self) -> bool:
        return self.state == _PAUSE

    @property
    def stopped(self) -> bool:
        """Cut short (`stop`), whether or not its thread has unwound yet."""
        return self.state == _STOP

    def obey(self) -> None:
        """In the decision's thread: wait while paused; unwind when stopped."""
        while self.state == _PAUSE:
            self._go.wait()
        if self.state == _STOP:
            raise Interrupted


@final
class _Countdown:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = PAUSE_EVERY


_COUNTDOWN: Final = _Countdown()
# The control of the decision each worker thread runs (`run_under`); none on the event loop.
_CURRENT: Final = threading.local()


def run_under(control: Control, decide: Callable[[_A], _R], argument: _A) -> _R | None:
    """`decide(argument)` in this thread, obeying `control` at its pauses; None when it was cut
    short (`Control.stop`)."""
    _CURRENT.control = control
    control.started()
    try:
        control.obey()
        return decide(argument)
    except Interrupted:
        return None
    finally:
        _CURRENT.control = None
        control.ended()


def pause() -> None:
    """Count one item; every `PAUSE_EVERY` items, obey the thread's `Control` if it has one
    and let other threads take the GIL.

    The count is shared by every thread (a lost update only moves a pause by one item)."""
    countdown = _COUNTDOWN
    countdown.left -= 1
    if countdown.left <= 0:
        countdown.left = PAUSE_EVERY
        control: Control | None = getattr(_CURRENT, "control", None)
        if control is not None and control.state != _RUN:
            control.obey()
        time.sleep(0)
