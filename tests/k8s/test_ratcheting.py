"""Ratcheting: which errors of an UPDATE's new object the old object already had, unchanged."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from app.k8s.field import (
    ErrorList,
    FieldError,
    FieldPath,
    forbidden,
    invalid,
    required,
    type_invalid,
)
from app.k8s.ratcheting import MISSING, OldErrors, Ratchet, ratchet, same_json, value_at

SEL = FieldPath.root("spec").child("promotionPolicies").index(0).child("stageSelector")
LABELS = SEL.child("matchLabels")
NAME = SEL.child("name")
EXPR = SEL.child("matchExpressions").index(0)
VALUES_DETAIL = "must be specified when `operator` is 'In' or 'NotIn'"


def spec(selector: object) -> dict[str, object]:
    return {"spec": {"promotionPolicies": [{"stageSelector": selector}]}}


@dataclass(frozen=True)
class Case:
    old: dict[str, object]
    new: dict[str, object]
    old_errors: list[FieldError]
    new_errors: list[FieldError]
    # Indices into new_errors of those kept (not enforced).
    kept: list[int]


LABEL_DETAIL = "a valid label must be ..."

CASES = [
    pytest.param(
        Case(
            spec({"matchLabels": {"tier": "a b"}}),
            spec({"matchLabels": {"tier": "a b"}}),
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [0],
        ),
        id="same error, same field, same value: kept",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"tier": "a b"}}),
            spec({"matchLabels": {"tier": "c d"}}),
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [invalid(LABELS, "c d", LABEL_DETAIL)],
            [],
        ),
        id="a bad value changed into another bad value: enforced",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"tier": "a b"}}),
            spec({"matchLabels": {"tier": "a b", "env": "x y"}}),
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [invalid(LABELS, "a b", LABEL_DETAIL), invalid(LABELS, "x y", LABEL_DETAIL)],
            [],
        ),
        id="the field holding the old error changed: every error there enforced",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"tier": "a b"}}),
            spec({"matchLabels": {"tier": "a b"}}),
            [],
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [],
        ),
        id="an error the old object did not have: enforced",
    ),
    pytest.param(
        Case(
            spec({"name": "x", "matchLabels": {"tier": "a b"}}),
            spec({"name": "regex:(", "matchLabels": {"tier": "a b"}}),
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [
                invalid(NAME, "regex:(", "error parsing regexp"),
                invalid(LABELS, "a b", LABEL_DETAIL),
            ],
            [1],
        ),
        id="a new error beside an old one: only the old one kept",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"tier": "a b"}}),
            spec({"matchLabels": {"tier": "a b"}}),
            [invalid(LABELS, "a b", "another detail")],
            [invalid(LABELS, "a b", LABEL_DETAIL)],
            [],
        ),
        id="same field and value, different detail: enforced",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"n": 1}}),
            spec({"matchLabels": {"n": True}}),
            [type_invalid(LABELS.key("n"), 1, "string")],
            [type_invalid(LABELS.key("n"), True, "string")],
            [],
        ),
        id="1 into true: another value (type-strict)",
    ),
    pytest.param(
        Case(
            spec({"matchLabels": {"n": 1}}),
            spec({"matchLabels": {"n": 1.0}}),
            [type_invalid(LABELS.key("n"), 1, "string")],
            [type_invalid(LABELS.key("n"), 1.0, "string")],
            [],
        ),
        id="1 into 1.0: another value (type-strict)",
    ),
    pytest.param(
        Case(
            {"spec": {"w": {"projectSelector": {"name": "a"}}}},
            {"spec": {"w": {"projectSelector": {"name": "b"}}}},
            [forbidden(FieldPath.root("spec").child("w").child("projectSelector"), "no")],
            [forbidden(FieldPath.root("spec").child("w").child("projectSelector"), "no")],
            [],
        ),
        id="an error quoting no value: the field's own value decides (changed: enforced)",
    ),
    pytest.param(
        Case(
            {"spec": {"w": {"projectSelector": {"name": "a"}}}, "metadata": {"labels": {}}},
            {"spec": {"w": {"projectSelector": {"name": "a"}}}, "metadata": {"labels": {"x": ""}}},
            [forbidden(FieldPath.root("spec").child("w").child("projectSelector"), "no")],
            [forbidden(FieldPath.root("spec").child("w").child("projectSelector"), "no")],
            [0],
        ),
        id="an error quoting no value, field unchanged, metadata changed: kept",
    ),
    pytest.param(
        Case(
            {"spec": {}},
            {"spec": {}},
            [required(FieldPath.root("spec").child("x"))],
            [required(FieldPath.root("spec").child("x"))],
            [0],
        ),
        id="a required field missing before and after: kept",
    ),
    pytest.param(
        Case(
            {"spec": {"x": None}},
            {"spec": {}},
            [required(FieldPath.root("spec").child("x"))],
            [required(FieldPath.root("spec").child("x"))],
            [],
        ),
        id="null and absent are different values",
    ),
    pytest.param(
        Case(
            {"spec": {"p": [{"stage": "a b"}, {"stage": "ok"}]}},
            {"spec": {"p": [{"stage": "ok"}, {"stage": "a b"}]}},
            [invalid(FieldPath.root("spec").child("p").index(0).child("stage"), "a b", "bad")],
            [invalid(FieldPath.root("spec").child("p").index(1).child("stage"), "a b", "bad")],
            [],
        ),
        id="a bad entry moved to another index: a new error there",
    ),
    pytest.param(
        Case(
            spec({"matchExpressions": [{"key": "t", "operator": "In"}]}),
            spec({"matchExpressions": [{"key": "t", "operator": "NotIn"}]}),
            [required(EXPR.child("values"), VALUES_DETAIL)],
            [required(EXPR.child("values"), VALUES_DETAIL)],
            [],
        ),
        id="Required: the object holding the field changed (operator In to NotIn): enforced",
    ),
    pytest.param(
        Case(
            spec({"matchExpressions": [{"key": "t", "operator": "In"}], "name": "a"}),
            spec({"matchExpressions": [{"key": "t", "operator": "In"}], "name": "b"}),
            [required(EXPR.child("values"), VALUES_DETAIL)],
            [required(EXPR.child("values"), VALUES_DETAIL)],
            [0],
        ),
        id="Required: the object holding the field unchanged, a sibling of it changed: kept",
    ),
    pytest.param(
        Case(
            spec({"matchExpressions": [{"key": "t", "operator": "Exists", "values": ["a"]}]}),
            spec({"matchExpressions": [{"key": "t", "operator": "DoesNotExist", "values": ["a"]}]}),
            [forbidden(EXPR.child("values"), "may not be specified")],
            [forbidden(EXPR.child("values"), "may not be specified")],
            [],
        ),
        id="Forbidden: values unchanged, operator changed: enforced",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_ratchet(case: Case) -> None:
    result = ratchet(
        ErrorList.of(*case.new_errors),
        ErrorList.of(*case.old_errors),
        obj=case.new,
        old_obj=case.old,
    )
    assert list(result.kept) == [case.new_errors[i] for i in case.kept]
    assert list(result.enforced) == [e for i, e in enumerate(case.new_errors) if i not in case.kept]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, True, id="deep equal"),
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, id="key order does not matter"),
        pytest.param([1, 2], [2, 1], False, id="list order does"),
        pytest.param(True, 1, False, id="true is not 1"),
        pytest.param(1, 1.0, False, id="1 is not 1.0"),
        pytest.param({"a": None}, {}, False, id="null is not absent"),
        pytest.param({"a": 1}, {"b": 1}, False, id="other key"),
        pytest.param([[]], [[], []], False, id="other length"),
    ],
)
def test_same_json(a: object, b: object, same: bool) -> None:
    assert same_json(a, b) is same
    assert same_json(b, a) is same


def test_same_json_handles_nesting_deeper_than_the_recursion_limit() -> None:
    a: object = "x"
    b: object = "x"
    for _ in range(5000):
        a, b = [a], [b]
    assert same_json(a, b)


def test_value_at() -> None:
    obj = {"spec": {"p": [{"m": {"a/b": "v"}}], "n": None}}
    p = FieldPath.root("spec").child("p")
    assert value_at(obj, p.index(0).child("m").key("a/b").segments) == "v"
    assert value_at(obj, FieldPath.root("spec").child("n").segments) is None
    assert value_at(obj, p.index(1).segments) is MISSING
    assert value_at(obj, p.index(-1).segments) is MISSING
    assert value_at(obj, p.child("x").segments) is MISSING
    assert value_at(obj, FieldPath().segments) is obj


def _ratchet_unchanged_labels(count: int) -> float:
    """Seconds (the best of three) to ratchet a map of `count` bad labels, unchanged, against
    itself; every error is kept, none enforced."""
    labels = {f"k{i}": f"bad value {i}" for i in range(count)}
    old, new = spec({"matchLabels": labels}), spec({"matchLabels": dict(labels)})
    errors = [invalid(LABELS, v, LABEL_DETAIL) for v in labels.values()]
    listed = ErrorList.of(*errors, limit=len(errors))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = ratchet(listed, listed, obj=new, old_obj=old)
        best = min(best, time.perf_counter() - started)
        assert len(result.kept) == len(errors)
        assert not result.enforced
    return best


def test_many_errors_at_one_path_are_ratcheted_in_linear_time() -> None:
    """A map of bad labels: one comparison of the map, not one per entry. Ten times the labels
    take about ten times as long; a comparison per entry would take a hundred times."""
    small, large = _ratchet_unchanged_labels(1_000), _ratchet_unchanged_labels(10_000)
    assert large / small < 30, (small, large)


def test_old_errors_are_compared_in_full_past_any_limit() -> None:
    """Sorted through observers, 1,000 old errors all count though each list keeps ten."""
    labels = {f"k{i}": f"bad value {i}" for i in range(1000)}
    old_obj = spec({"matchLabels": labels})
    new_obj = spec({"matchLabels": dict(labels)})
    old = OldErrors()
    old_list = ErrorList(limit=10, observer=old.add)
    for v in labels.values():
        old_list.append(invalid(LABELS, v, LABEL_DETAIL))
    assert len(old) == 1000
    assert old_list.omitted == 990
    split = Ratchet(old, obj=new_obj, old_obj=old_obj, limit=10)
    for v in reversed(list(labels.values())):
        split.sort(invalid(LABELS, v, LABEL_DETAIL))
    split.sort(invalid(LABELS, "never seen", LABEL_DETAIL))
    assert split.kept.total == 1000
    assert len(split.kept) == 10
    assert [str(e) for e in split.enforced] == [str(invalid(LABELS, "never seen", LABEL_DETAIL))]


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        pytest.param({"b": 1, "a": [1.0]}, {"a": [1.0], "b": 1}, True, id="key order ignored"),
        pytest.param({"a": [1.0]}, {"a": [1]}, False, id="1.0 is not 1 inside a value"),
        pytest.param(2**70, 2**70, True, id="an integer too wide to encode: the field decides"),
    ],
)
def test_bad_values_are_compared_type_strict(before: object, after: object, kept: bool) -> None:
    path = FieldPath.root("spec").child("x")
    old_error = type_invalid(path, before, "string")
    new_error = type_invalid(path, after, "string")
    obj = {"spec": {"x": after}}
    old_obj = {"spec": {"x": before}}
    result = ratchet(ErrorList.of(new_error), ErrorList.of(old_error), obj=obj, old_obj=old_obj)
    assert list(result.kept) == ([new_error] if kept else [])
