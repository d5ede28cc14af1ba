"""A least-recently-used cache of pattern verdicts, bounded in bytes rather than entries.

An entry's size is what Python spends on its key and value strings (`sys.getsizeof`: a
non-ASCII character costs 2 or 4 bytes), plus a fixed overhead for the dictionary slot and the
tuple; the cache evicts the least recently used entries until the total is within its budget.
Values larger than a quarter of the budget are not stored at all, so one huge pattern never
flushes the whole cache.

Shared by the event loop and the decision worker thread, so every operation holds a lock: an
interleaved move and eviction would otherwise find a key gone.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Final, final

# The dictionary's slot, its linked-list node and the stored tuple, besides the two strings.
_ENTRY_OVERHEAD: Final = 160


def entry_bytes(key: str, value: str | None) -> int:
    size = sys.getsizeof(key) + _ENTRY_OVERHEAD
    if value is not None:
        size += sys.getsizeof(value)
    return size


@final
class VerdictCache:
    """`pattern -> error text or None`, least recently used first out, within `max_bytes`."""

    __slots__ = ("_entries", "_lock", "bytes", "hits", "max_bytes", "misses")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str | None, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[bool, str | None]:
        """(True, verdict) when cached, else (False, None)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return False, None
            self._entries.move_to_end(key)
            self.hits += 1
            return True, entry[0]

    def put(self, key: str, value: str | None) -> None:
        size = entry_bytes(key, value)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted

    def stats(self) -> tuple[int, int, int, int]:
        """(hits, misses, entries, bytes)."""
        with self._lock:
            return self.hits, self.misses, len(self._entries), self.bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
            self.hits = 0
            self.misses = 0
