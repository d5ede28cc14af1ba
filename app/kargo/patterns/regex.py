"""`regex:`/`regexp:` stage names: the error Go's `regexp.Compile` would return, or None.

The verdict comes from two judges: goregexp.py scans the pattern as Go's parser does (where Go
and RE2 differ, and Go's nesting and size limits) and rewrites it neutrally, and RE2 judges the
structure of that rewrite (re2engine.py). The first error in Go's left-to-right order wins.
"""

from __future__ import annotations

from app.kargo.patterns.goregexp import Scanner
from app.kargo.patterns.re2engine import re2_structure_error
from app.kargo.patterns.syntax_errors import format_go_error
from app.kargo.patterns.verdict_cache import VerdictCache

# Patterns repeat across requests (every update of a ProjectConfig re-sends all of them), so
# verdicts are memoised, in at most this many bytes: patterns and Go's error texts (which quote
# the pattern) together. Counted in bytes, not entries: 4,096 entries of long non-ASCII invalid
# patterns once pinned 170 MB. 4 MiB holds about 20,000 verdicts on realistic stage selectors
# (under 100 characters each). A pattern too large for a quarter of it is never cached.
REGEX_CACHE_BYTES = 4 * 1024 * 1024

_cache = VerdictCache(REGEX_CACHE_BYTES)


def regex_error(pattern: str) -> str | None:
    """The error Go's `regexp.Compile(pattern)` returns, as its `Error()` text, or None."""
    found, verdict = _cache.get(pattern)
    if found:
        return verdict
    verdict = _regex_error(pattern)
    _cache.put(pattern, verdict)
    return verdict


def cache_stats() -> tuple[int, int, int, int]:
    """(hits, misses, entries, bytes) of the verdict cache: for tests and diagnostics."""
    return _cache.stats()


def clear_cache() -> None:
    _cache.clear()


def _regex_error(pattern: str) -> str | None:
    # Kargo receives the object through Go's JSON decoder, which replaces unpaired UTF-16
    # surrogates with U+FFFD; a Python str can still hold them, so do the same.
    if _has_surrogates(pattern):
        pattern = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in pattern)
    scan = Scanner(pattern).scan()
    if scan.error is None:
        found = re2_structure_error(scan.neutral, pattern)
        return None if found is None else format_go_error(*found)
    # The scanner stopped at the first error only it can see. RE2 sees the structural errors;
    # any in the part before the scanner's error came first in Go's left-to-right parse. Open
    # groups are closed so that RE2 does not report the cut-off as a missing ')'.
    earlier = re2_structure_error(scan.neutral + ")" * scan.open_groups, pattern)
    return format_go_error(*(earlier if earlier is not None else scan.error))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
