"""The table of rollback-annotation cases: one truth for the guard's tests and its CEL twin.

Each case says what the mutating answer leaves in the stored object and whether the validating
answer admits the request as sent (before any mutation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.reviews import CONTROLLER, KEY

OTHER = "alice"


@dataclass(frozen=True)
class AnnotationCase:
    operation: str
    username: str
    new: dict[str, Any] | None  # the object's annotations; None: no annotations map
    old: dict[str, Any] | None = None  # oldObject's annotations (UPDATE)
    # Annotations after the mutating answer's patch (strip mode); equal to `new` when untouched.
    mutated: dict[str, Any] | None = None
    validate_allows: bool = True
    guard_action: str | None = None


def _cases() -> list[Any]:
    c = AnnotationCase
    return [
        pytest.param(
            c(
                "CREATE",
                OTHER,
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="user creates with rollback=true: stripped",
        ),
        pytest.param(
            c(
                "CREATE",
                OTHER,
                {KEY: "false", "a": "b"},
                mutated={"a": "b"},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="user creates with rollback=false: stripped whatever the value",
        ),
        pytest.param(
            c(
                "CREATE",
                OTHER,
                {KEY: ""},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="user creates with an empty value: stripped",
        ),
        pytest.param(
            c("CREATE", OTHER, {"a": "b"}, mutated={"a": "b"}),
            id="user creates without the annotation: untouched",
        ),
        pytest.param(
            c("CREATE", OTHER, None, mutated=None),
            id="user creates with no annotations map: untouched",
        ),
        pytest.param(
            c(
                "CREATE",
                OTHER,
                {"kargo.akuity.io/Rollback": "true"},
                mutated={"kargo.akuity.io/Rollback": "true"},
            ),
            id="look-alike key with a capital R is not guarded",
        ),
        pytest.param(
            c(
                "CREATE",
                OTHER,
                {"kargo.akuity.io/rollback ": "true"},
                mutated={"kargo.akuity.io/rollback ": "true"},
            ),
            id="look-alike key with a trailing space is not guarded",
        ),
        pytest.param(
            c("CREATE", CONTROLLER, {KEY: "true"}, mutated={KEY: "true"}),
            id="controller creates a rollback: kept",
        ),
        pytest.param(
            c(
                "CREATE",
                CONTROLLER + "\n",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="controller name with a trailing newline is another user",
        ),
        pytest.param(
            c(
                "CREATE",
                "system:serviceaccount:evil:kargo-controller",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="kargo-controller of another namespace is another user",
        ),
        pytest.param(
            c(
                "CREATE",
                CONTROLLER + "-evil",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="kargo-controller-evil is another user",
        ),
        pytest.param(
            c(
                "CREATE",
                "system:serviceaccount:kargo:kargo-api",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="kargo-api is another user",
        ),
        pytest.param(
            c(
                "CREATE",
                "system:admin",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="a cluster admin is another user",
        ),
        pytest.param(
            c(
                "CREATE",
                "",
                {KEY: "true"},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="an empty username is another user",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                {"a": "b"},
                old={KEY: "true", "a": "b"},
                mutated={KEY: "true", "a": "b"},
                validate_allows=False,
                guard_action="restored",
            ),
            id="user update removing the annotation: restored",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                None,
                old={KEY: "true"},
                mutated={KEY: "true"},
                validate_allows=False,
                guard_action="restored",
            ),
            id="user update dropping the whole annotations map: restored",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                {KEY: "false"},
                old={KEY: "true"},
                mutated={KEY: "true"},
                validate_allows=False,
                guard_action="restored",
            ),
            id="user update changing the value: restored",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                {KEY: "true"},
                old={},
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="user update adding the annotation: stripped",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                {KEY: "true"},
                old=None,
                mutated={},
                validate_allows=False,
                guard_action="stripped",
            ),
            id="user update adding the annotation to an object without annotations: stripped",
        ),
        pytest.param(
            c(
                "UPDATE",
                OTHER,
                {KEY: "true", "x": "y"},
                old={KEY: "true"},
                mutated={KEY: "true", "x": "y"},
            ),
            id="user update keeping the controller's value: untouched",
        ),
        pytest.param(
            c("UPDATE", OTHER, {"x": "y"}, old={"x": "z"}, mutated={"x": "y"}),
            id="user update of other annotations: untouched",
        ),
        pytest.param(
            c("UPDATE", CONTROLLER, {}, old={KEY: "true"}, mutated={}),
            id="controller removes the annotation: kept",
        ),
        pytest.param(
            c("UPDATE", CONTROLLER, {KEY: "true"}, old={}, mutated={KEY: "true"}),
            id="controller adds the annotation on update: kept",
        ),
    ]


ANNOTATION_CASES = _cases()
