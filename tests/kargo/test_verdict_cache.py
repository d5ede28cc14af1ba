"""The regex verdict cache: least recently used out, bounded in bytes, whatever the patterns."""

from __future__ import annotations

import gc
import tracemalloc

from app.kargo.patterns import regex as regex_rules
from app.kargo.patterns import regex_error
from app.kargo.patterns.verdict_cache import VerdictCache, entry_bytes


def test_a_cached_verdict_is_returned() -> None:
    cache = VerdictCache(10_000)
    cache.put("a(", "error")
    cache.put("ok", None)
    assert cache.get("a(") == (True, "error")
    assert cache.get("ok") == (True, None)
    assert cache.get("missing") == (False, None)
    assert cache.stats()[:3] == (2, 1, 2)


def test_the_least_recently_used_goes_first() -> None:
    one = entry_bytes("p0", "e")
    cache = VerdictCache(4 * one)
    for key in ("p0", "p1", "p2", "p3"):
        cache.put(key, "e")
    cache.get("p0")  # now p1 is the least recently used
    cache.put("p4", "e")
    assert cache.get("p1") == (False, None)
    assert [cache.get(k)[0] for k in ("p0", "p2", "p3", "p4")] == [True] * 4
    assert cache.bytes == 4 * one


def test_bytes_never_exceed_the_budget() -> None:
    cache = VerdictCache(50_000)
    for i in range(2_000):
        cache.put(f"{i}(" + "é" * (i % 300), "error " + "ü" * (i % 500))
        assert cache.bytes <= 50_000
    _, _, entries, size = cache.stats()
    assert entries > 10
    assert size == sum(entry_bytes(k, v) for k, (v, _) in cache._entries.items())


def test_a_value_too_large_for_a_quarter_of_the_budget_is_not_stored() -> None:
    cache = VerdictCache(40_000)
    cache.put("small", None)
    cache.put("x" * 20_000, "error")
    assert cache.get("x" * 20_000) == (False, None)
    assert cache.get("small") == (True, None)


def test_long_invalid_patterns_do_not_pin_memory() -> None:
    # The attack: 4,320 distinct invalid patterns of 4,096 characters, each character four
    # bytes, so that every cached error (which quotes the whole pattern) is large too. With a
    # cache of 4,096 entries this pinned about 130 MiB; now it holds the cache's budget.
    regex_rules.clear_cache()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(4_320):
            pattern = f"({i:04d}" + "\U0001f600" * 4_091
            assert regex_error(pattern) is not None
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        regex_rules.clear_cache()
    assert grown < regex_rules.REGEX_CACHE_BYTES + 1024 * 1024, grown
