"""The glob matcher against doublestar v4's own test table, and the differences from fnmatch.

tests/fixtures/doublestar/match_cases.json is doublestar's `matchTests` (doublestar_test.go,
MIT licence, see the README beside it): the verdict `Match` must give for each pattern and path,
or ErrBadPattern. Kargo calls `MatchUnvalidated`, which gives the same verdict with no error.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import TypedDict

import pytest

from app.commands.doublestar import BadGlob, GlobTooComplex, match, match_unvalidated

_FIXTURE = Path(__file__).parent.parent / "fixtures" / "doublestar" / "match_cases.json"


class _Case(TypedDict):
    pattern: str
    name: str
    match: bool
    badPattern: bool


def _cases() -> list[_Case]:
    data = json.loads(_FIXTURE.read_text(encoding="utf-8"))
    cases: list[_Case] = data["cases"]
    return cases


_CASES = _cases()


def test_the_table_is_doublestars_whole_table() -> None:
    # 163 rows in doublestar_test.go at the recorded commit; a shorter file lost some.
    assert len(_CASES) == 163
    assert sum(case["badPattern"] for case in _CASES) == 10


@pytest.mark.parametrize("case", _CASES, ids=[f"{c['pattern']!r}~{c['name']!r}" for c in _CASES])
def test_match_gives_doublestars_verdict(case: _Case) -> None:
    if case["badPattern"]:
        with pytest.raises(BadGlob):
            match(case["pattern"], case["name"])
    else:
        assert match(case["pattern"], case["name"]) is case["match"]
    assert match_unvalidated(case["pattern"], case["name"]) is case["match"]


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        pytest.param("prod-*", "prod-eu/x", False, id="star does not cross a slash"),
        pytest.param("**", "a/b", True, id="doublestar crosses slashes"),
        pytest.param("{prod,stage}-eu", "stage-eu", True, id="alternatives"),
        pytest.param("[!a]pp", "bpp", True, id="bang negates"),
        pytest.param("[^a]pp", "bpp", True, id="caret negates"),
        pytest.param("prod\\*", "prod*", True, id="escaped star is literal"),
        pytest.param("prod\\*", "prod-eu", False, id="escaped star matches only a star"),
    ],
)
def test_features_fnmatch_gets_wrong(pattern: str, name: str, expected: bool) -> None:
    assert match(pattern, name) is expected


def test_fnmatch_is_not_doublestar() -> None:
    """Why the port exists: fnmatch disagrees on rows of doublestar's own table."""
    disagree = [
        c
        for c in _CASES
        if not c["badPattern"] and fnmatch.fnmatchcase(c["name"], c["pattern"]) != c["match"]
    ]
    assert len(disagree) >= 10


def test_deeply_nested_alternatives_give_no_verdict_rather_than_crash() -> None:
    pattern = "{a," * 1500 + "b" + "}" * 1500
    with pytest.raises(GlobTooComplex):
        match(pattern, "c")
    with pytest.raises(GlobTooComplex):
        match_unvalidated(pattern, "c")


def test_exponentially_many_alternatives_give_no_verdict_rather_than_hang() -> None:
    """Each `{a,a}` doubles the tries when nothing matches: 2^40 here, stopped at the budget."""
    pattern = "{a,a}" * 40 + "x"
    name = "a" * 40 + "y"
    with pytest.raises(GlobTooComplex):
        match_unvalidated(pattern, name)
    assert match_unvalidated("{a,a}" * 40 + "y", name) is True  # a match is found at once
