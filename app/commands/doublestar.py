"""doublestar v4's `Match`: whether a Stage name matches a `glob:` stage selector.

Kargo's `pkg/pattern` (`GlobMatcher.Matches`) calls `doublestar.MatchUnvalidated(pattern, name)`
from github.com/bmatcuk/doublestar/v4. Python's `fnmatch` is not that matcher: its `*` crosses
`/`, it knows neither `**` nor `{a,b}`, and `[!x]` is its only negation. This is a port of
doublestar's match.go (`doMatchWithSeparator`, `isZeroLengthPattern`, `indexMatchedClosingAlt`,
`indexNextAlt`, `indexUnescapedByte`) with '/' as the separator, so '\\' escapes. Its verdicts are
held to doublestar's own test table (tests/fixtures/doublestar/match_cases.json, copied from
doublestar_test.go with attribution).

Go walks bytes and decodes runes where it compares characters; this walks code points. Every
character doublestar treats specially is ASCII, so skipping "the next byte" after a backslash and
skipping the next code point leave the same special characters behind.

`{a,b}` alternatives are tried by recursion, as doublestar does, which is exponential in the
number of groups whose alternatives all match before the match fails (`{a,a}{a,a}…x`): in Kargo
too. Here the tries are counted, and past `MAX_ALTERNATIVE_TRIES` tries or
`MAX_ALTERNATIVE_GROUPS` groups (or Python's stack) the verdict is `GlobTooComplex`, never a hang
or a guess.
"""

from __future__ import annotations

from typing import Final

from app.kargo.patterns import glob_error

_SEPARATOR: Final = "/"
_MAX_RUNE: Final = 0x10FFFF  # utf8.MaxRune: "no range start yet"
# matchWithSeparator's start: no backtracking point yet, both at their first character.
_START: Final = {
    "doublestar_pattern_backtrack": -1,
    "doublestar_name_backtrack": -1,
    "star_pattern_backtrack": -1,
    "star_name_backtrack": -1,
    "pat_idx": 0,
    "name_idx": 0,
}


# Far beyond any stage selector (`{dev,qa,uat}-{eu,us}-*` tries 6 alternatives), small enough to
# give up within milliseconds.
MAX_ALTERNATIVE_TRIES: Final = 10_000
# Each `{` costs a level of recursion and a copy of the pattern; no stage selector needs more.
MAX_ALTERNATIVE_GROUPS: Final = 100


class BadGlob(Exception):
    """doublestar.ErrBadPattern: the pattern is malformed where matching reached it."""


class GlobTooComplex(Exception):
    """Too many `{a,b}` alternatives to try: no verdict (doublestar would keep going)."""


class _Budget:
    """How many more `{...}` alternatives may be tried in one match."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_ALTERNATIVE_TRIES


def match(pattern: str, name: str) -> bool:
    """doublestar `Match(pattern, name)`; raises `BadGlob` where `Match` returns ErrBadPattern,
    `GlobTooComplex` where no verdict is given."""
    try:
        return _match(pattern, name, True, budget=_Budget(), **_START)
    except RecursionError:
        raise GlobTooComplex("alternatives nested too deeply") from None


def match_unvalidated(pattern: str, name: str) -> bool:
    """doublestar `MatchUnvalidated`, which Kargo calls: an error is simply no match.
    Raises `GlobTooComplex` where no verdict is given."""
    try:
        return _match(pattern, name, False, budget=_Budget(), **_START)
    except BadGlob:
        return False
    except RecursionError:
        raise GlobTooComplex("alternatives nested too deeply") from None


def _match(
    pattern: str,
    name: str,
    validate: bool,
    *,
    budget: _Budget,
    doublestar_pattern_backtrack: int,
    doublestar_name_backtrack: int,
    star_pattern_backtrack: int,
    star_name_backtrack: int,
    pat_idx: int,
    name_idx: int,
) -> bool:
    budget.left -= 1
    if budget.left < 0 or pattern.count("{") > MAX_ALTERNATIVE_GROUPS:
        raise GlobTooComplex("too many alternatives to try")
    pat_len, name_len = len(pattern), len(name)
    start_of_segment = True
    while name_idx < name_len:
        if pat_idx < pat_len:
            ch = pattern[pat_idx]
            if ch == "*":
                pat_idx += 1
                if pat_idx < pat_len and pattern[pat_idx] == "*":
                    # `**` counts only as a whole segment (`/**/`); elsewhere it is a `*`.
                    pat_idx += 1
                    if start_of_segment:
                        if pat_idx >= pat_len:
                            return True  # the pattern ends in `/**`
                        if pattern[pat_idx] == _SEPARATOR:
                            pat_idx += 1
                            doublestar_pattern_backtrack = pat_idx
                            doublestar_name_backtrack = name_idx
                            star_pattern_backtrack = -1
                            star_name_backtrack = -1
                            continue
                start_of_segment = False
                star_pattern_backtrack = pat_idx
                star_name_backtrack = name_idx
                continue
            if ch == "?":
                start_of_segment = False
                if name[name_idx] != _SEPARATOR:  # `?` never matches the separator
                    pat_idx += 1
                    name_idx += 1
                    continue
            elif ch == "[":
                start_of_segment = False
                pat_idx += 1
                if pat_idx >= pat_len:
                    raise BadGlob("class did not end")
                name_rune = name[name_idx]
                matched = False
                negate = pattern[pat_idx] in "!^"
                if negate:
                    pat_idx += 1
                if pat_idx >= pat_len or pattern[pat_idx] == "]":
                    raise BadGlob("class did not end, or is empty")
                last = _MAX_RUNE
                while pat_idx < pat_len and pattern[pat_idx] != "]":
                    pat_rune = pattern[pat_idx]
                    pat_idx += 1
                    if (
                        last < _MAX_RUNE
                        and pat_rune == "-"
                        and pat_idx < pat_len
                        and pattern[pat_idx] != "]"
                    ):
                        if pattern[pat_idx] == "\\":
                            pat_idx += 1  # the range's end is escaped
                        # Go decodes past the end as RuneError (U+FFFD), one byte long.
                        pat_rune = pattern[pat_idx] if pat_idx < pat_len else "\ufffd"
                        pat_idx += 1
                        if last <= ord(name_rune) <= ord(pat_rune):
                            matched = True
                            break
                        last = _MAX_RUNE  # not in the range: start over
                        continue
                    if pat_rune == "\\":
                        pat_rune = pattern[pat_idx] if pat_idx < pat_len else "\ufffd"
                        pat_idx += 1
                    if pat_rune == name_rune:
                        matched = True
                        break
                    last = ord(pat_rune)
                if matched == negate:
                    if pat_idx >= pat_len:
                        raise BadGlob("class never closed")
                else:
                    closing = _index_unescaped(pattern[pat_idx:], "]")
                    if closing == -1:
                        raise BadGlob("class never closed")
                    pat_idx += closing + 1
                    name_idx += 1
                    continue
            elif ch == "{":
                start_of_segment = False
                before = pat_idx
                pat_idx += 1
                closing = _index_matched_closing_alt(pattern[pat_idx:])
                if closing == -1:
                    raise BadGlob("no closing }")
                closing += pat_idx
                while True:
                    comma = _index_next_alt(pattern[pat_idx:closing])
                    if comma == -1:
                        break
                    comma += pat_idx
                    if _match(
                        pattern[:before] + pattern[pat_idx:comma] + pattern[closing + 1 :],
                        name,
                        validate,
                        budget=budget,
                        doublestar_pattern_backtrack=doublestar_pattern_backtrack,
                        doublestar_name_backtrack=doublestar_name_backtrack,
                        star_pattern_backtrack=star_pattern_backtrack,
                        star_name_backtrack=star_name_backtrack,
                        pat_idx=before,
                        name_idx=name_idx,
                    ):
                        return True
                    pat_idx = comma + 1
                return _match(
                    pattern[:before] + pattern[pat_idx:closing] + pattern[closing + 1 :],
                    name,
                    validate,
                    budget=budget,
                    doublestar_pattern_backtrack=doublestar_pattern_backtrack,
                    doublestar_name_backtrack=doublestar_name_backtrack,
                    star_pattern_backtrack=star_pattern_backtrack,
                    star_name_backtrack=star_name_backtrack,
                    pat_idx=before,
                    name_idx=name_idx,
                )
            else:
                if ch == "\\":
                    pat_idx += 1  # the next character is literal
                    if pat_idx >= pat_len:
                        raise BadGlob("pattern ends in \\")
                pat_rune = pattern[pat_idx]
                if pat_rune == name[name_idx]:
                    pat_idx += 1
                    name_idx += 1
                    start_of_segment = pat_rune == _SEPARATOR
                    continue
                if pat_idx > 0 and pattern[pat_idx - 1] == "\\":
                    pat_idx -= 1  # back to the backslash before backtracking or validating

        if star_pattern_backtrack >= 0 and name[star_name_backtrack] != _SEPARATOR:
            # `*` takes one more character, but never the separator.
            star_name_backtrack += 1
            pat_idx = star_pattern_backtrack
            name_idx = star_name_backtrack
            start_of_segment = False
            continue

        if doublestar_pattern_backtrack >= 0:
            separator = name.find(_SEPARATOR, doublestar_name_backtrack)
            if separator != -1:
                # `**` takes one more directory.
                doublestar_name_backtrack = name_idx = separator + 1
                pat_idx = doublestar_pattern_backtrack
                start_of_segment = True
                continue

        if validate and pat_idx < pat_len and not _valid(pattern[pat_idx:]):
            raise BadGlob("syntax error in pattern")
        return False

    if name_idx < name_len:
        return False  # the pattern ended before the name
    # The name ended: a match if the rest of the pattern can match nothing.
    return _is_zero_length(pattern[pat_idx:], validate)


def _is_zero_length(pattern: str, validate: bool) -> bool:
    # `/**`, `**/` and `/**/` match nothing, so `a/**` matches `a` (it might be a directory).
    if pattern in ("", "*", "**", "/**", "**/", "/**/"):
        return True
    if pattern[0] == "{":
        closing = _index_matched_closing_alt(pattern[1:])
        if closing == -1:
            raise BadGlob("no closing }")
        closing += 1
        pat_idx = 1
        while True:
            comma = _index_next_alt(pattern[pat_idx:closing])
            if comma == -1:
                break
            comma += pat_idx
            if _is_zero_length(pattern[pat_idx:comma] + pattern[closing + 1 :], validate):
                return True
            pat_idx = comma + 1
        return _is_zero_length(pattern[pat_idx:closing] + pattern[closing + 1 :], validate)
    if validate and not _valid(pattern):
        raise BadGlob("syntax error in pattern")
    return False


def _index_unescaped(text: str, wanted: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == wanted:
            return i
        i += 1
    return -1


def _index_matched_closing_alt(text: str) -> int:
    """The `}` closing the `{` just before `text`, skipping nested pairs and escapes."""
    depth = 1
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _index_next_alt(text: str) -> int:
    """The next `,` at the top level of one `{...}` group."""
    depth = 1
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 1:
            return i
        i += 1
    return -1


def _valid(pattern: str) -> bool:
    """doublestar's `doValidatePattern`, ported in `app.kargo.patterns.glob`."""
    return glob_error(pattern) is None
