"""Pauses in long validations, so that the event loop gets the GIL while a worker decides.

A review over 64 KiB is decoded and decided in a worker thread, so that the event loop goes on
answering the API server's other calls meanwhile. But CPython hands the GIL to a waiting thread
only from its interpreter loop, every 5 ms; the decision runs compiled (mypyc), never passes
through that loop, and so kept the GIL for its whole length: hundreds of milliseconds during
which the event loop could not take a single step, and a small review waited for every
decision an attacker queued. `pause()` is called once per item of the loops that grow with the
object (policies, windows, labels, errors); every `PAUSE_EVERY` calls it lets the GIL go
(`time.sleep(0)`), so the loop waits at most a few hundred microseconds of validation.
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
