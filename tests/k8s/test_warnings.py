"""Warnings stay within what the API server passes on: count, length and total size."""

from __future__ import annotations

import orjson

from app.admission import responses as rsp
from app.k8s.warnings import (
    MAX_WARNING_CHARS,
    MAX_WARNINGS,
    WarningList,
    bound_warnings,
    clip_warning,
)

# The API server ignores warnings past 4096 characters for a request, from all webhooks.
API_SERVER_WARNING_BUDGET = 4096


def test_few_warnings_pass_as_they_are() -> None:
    warnings = WarningList()
    for i in range(MAX_WARNINGS):
        warnings.append(f"w{i}")
    assert warnings.render() == [f"w{i}" for i in range(MAX_WARNINGS)]
    assert warnings.omitted == 0


def test_many_warnings_end_with_how_many_were_left_out() -> None:
    warnings = WarningList()
    for i in range(100_000):
        warnings.append(f"w{i}")

    rendered = warnings.render()

    assert len(rendered) == MAX_WARNINGS
    assert rendered[:-1] == [f"w{i}" for i in range(MAX_WARNINGS - 1)]
    assert rendered[-1] == f"{100_000 - MAX_WARNINGS + 1} more warnings not shown"
    assert (len(warnings), warnings.total) == (MAX_WARNINGS, 100_000)


def test_one_more_warning_than_the_limit() -> None:
    warnings = WarningList()
    for i in range(MAX_WARNINGS + 1):
        warnings.append(f"w{i}")
    assert warnings.render()[-1] == "2 more warnings not shown"


def test_long_warnings_are_clipped_under_the_limit() -> None:
    assert clip_warning("x" * (MAX_WARNING_CHARS - 1)) == "x" * (MAX_WARNING_CHARS - 1)
    clipped = clip_warning("x" * 10_000)
    assert len(clipped) == MAX_WARNING_CHARS - 1
    assert clipped.endswith("...")


def test_bounded_warnings_fit_the_api_servers_budget() -> None:
    bounded = bound_warnings("w" * 1_000 for _ in range(10_000))
    assert len(bounded) == MAX_WARNINGS
    assert all(len(w) < MAX_WARNING_CHARS for w in bounded)
    assert sum(map(len, bounded)) < API_SERVER_WARNING_BUDGET


def test_an_answer_bounds_whatever_warnings_a_policy_returns() -> None:
    decision = rsp.allowed("valid", warnings=["w" * 500] * 50_000)
    answer = orjson.loads(rsp.encode_response(None, "u", decision))
    warnings = answer["response"]["warnings"]
    assert len(warnings) == MAX_WARNINGS
    assert warnings[-1] == f"{50_000 - MAX_WARNINGS + 1} more warnings not shown"
    assert all(len(w) < MAX_WARNING_CHARS for w in warnings)


def test_an_answer_keeps_short_warnings_as_they_are() -> None:
    decision = rsp.allowed("valid", warnings=["a", "b"])
    answer = orjson.loads(rsp.encode_response(None, "u", decision))
    assert answer["response"]["warnings"] == ["a", "b"]
