"""Waiting in tests for a condition another thread or task brings about: polled, and bounded
in time. Each returns whether the condition held; the caller asserts what it needs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], seconds: float = 10.0, every: float = 0.005) -> bool:
    """Polls `condition` every `every` seconds, on the running loop, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


def wait_until(condition: Callable[[], bool], seconds: float, every: float = 0.05) -> bool:
    """Polls `condition` every `every` seconds, sleeping in this thread, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True
