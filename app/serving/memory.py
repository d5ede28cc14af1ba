"""Memory given back after a flood: glibc's `malloc_trim`, every few seconds.

A flood of connections (5,000 silent TCP connections from one address, each given a TLS state
by the event loop before its handshake) took the server from 69 to 250 MiB; once every one was
closed at the handshake deadline the process still held 339 MiB: glibc keeps freed memory in
its arenas, fragmented, and gives back only what sits at the top of the heap. `malloc_trim(0)`
returns every free page to the kernel. It walks the free lists (milliseconds for a heap of
hundreds of MiB) with the GIL released (a foreign call), so it runs every `INTERVAL` seconds
from a background task. On a C library without it (musl) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Final

INTERVAL: Final = 5.0


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    function: Callable[[int], int] = trim
    return function


async def trim_periodically(stop: asyncio.Event) -> None:
    """Until `stop` is set, give free memory back to the kernel every `INTERVAL` seconds."""
    trim = _malloc_trim()
    if trim is None:
        return
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=INTERVAL)
        except TimeoutError:
            trim(0)
