"""Pauses in long validations, so that the event loop gets the GIL while a worker decides.

A review over 64 KiB is decoded and decided in a worker thread, so that the event loop goes on
answering the API server's other calls meanwhile. But a thread that holds the GIL gives it up
only when the interpreter asks it to, after its switch interval (5 ms) and at the next point
compiled code lets it; the event loop takes dozens of short turns to answer one review, and
waited that long for each of them while an attacker kept the worker busy. `pause()` is called
once per item of the loops that grow with the object (policies, windows, labels, errors);
every `PAUSE_EVERY` calls it lets the GIL go (`time.sleep(0)`), so the loop waits about a
millisecond for a turn instead of six (tests/k8s/test_cooperative.py).
Measured: see README, "Slow, flooding and idle clients".
"""

from __future__ import annotations

import time
from typing import Final, final

# Items validated between pauses: a policy takes about 10-25 microseconds to validate.
PAUSE_EVERY: Final = 32


@final
class _Countdown:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = PAUSE_EVERY


_COUNTDOWN: Final = _Countdown()


def pause() -> None:
    """Count one item; every `PAUSE_EVERY` items, let other threads take the GIL.

    The count is shared by every thread (a lost update only moves a pause by one item)."""
    countdown = _COUNTDOWN
    countdown.left -= 1
    if countdown.left <= 0:
        countdown.left = PAUSE_EVERY
        time.sleep(0)
