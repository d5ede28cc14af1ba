"""The rollback-annotation rule returns field errors, as every Kargo rule does.

The same table as the webhook's (tests/webhooks/annotation_cases.py): the rule's errors must
say exactly what the validating answer decides, so `check` and the webhook cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.k8s.field import ErrorType, go_quote
from app.kargo.identity import ControllerIdentity
from app.kargo.rollback import (
    ANNOTATION_FIELD,
    AnnotationChange,
    annotation_change,
    malformed_message,
    validate_rollback_annotation,
)
from tests.support.reviews import CONTROLLER, KEY, promotion
from tests.webhooks.annotation_cases import ANNOTATION_CASES, AnnotationCase

IS_CONTROLLER = ControllerIdentity.of([CONTROLLER])


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_errors_are_exactly_the_validating_answers_denials(case: AnnotationCase) -> None:
    if case.operation not in ("CREATE", "UPDATE"):
        pytest.skip("the rule judges CREATE and UPDATE; other operations never reach it")
    errors, _ = validate_rollback_annotation(
        is_update=case.operation == "UPDATE",
        username=case.username,
        obj=promotion(case.new),
        old_obj=promotion(case.old) if case.operation == "UPDATE" else None,
        is_controller=IS_CONTROLLER,
    )
    if case.validate_allows:
        assert not errors
        return
    (error,) = errors
    assert error.type is ErrorType.FORBIDDEN
    assert error.path == ANNOTATION_FIELD
    assert error.field == f"metadata.annotations[{KEY}]"
    assert error.detail.startswith(f"user {go_quote(case.username)} may not ")
    assert error.message.startswith("Forbidden: user ")


@pytest.mark.parametrize(
    ("obj", "old_obj", "field"),
    [
        pytest.param({"metadata": "x"}, None, "object.metadata", id="metadata is a string"),
        pytest.param(
            {"metadata": {"annotations": ["a"]}},
            None,
            "object.metadata.annotations",
            id="annotations is a list",
        ),
        pytest.param(
            promotion({KEY: "true"}),
            {"metadata": 7},
            "oldObject.metadata",
            id="the old object's metadata is a number",
        ),
    ],
)
def test_malformed_metadata_is_a_type_error(
    obj: dict[str, Any], old_obj: dict[str, Any] | None, field: str
) -> None:
    errors, warnings = validate_rollback_annotation(
        is_update=old_obj is not None,
        username=CONTROLLER,  # even the controller's object must be shaped like one
        obj=obj,
        old_obj=old_obj,
        is_controller=IS_CONTROLLER,
    )
    (error,) = errors
    assert warnings == []
    assert error.type is ErrorType.TYPE_INVALID
    assert error.field == field
    assert malformed_message(error) == f"{field} must be an object"


def test_the_controller_gets_warnings_not_errors() -> None:
    errors, warnings = validate_rollback_annotation(
        is_update=False,
        username=CONTROLLER,
        obj=promotion({KEY: "yes"}),
        old_obj=None,
        is_controller=IS_CONTROLLER,
    )
    assert not errors
    assert len(warnings) == 1
    assert 'only the exact value "true"' in warnings[0]


def test_the_change_says_who_made_it_and_what_it_does() -> None:
    change = annotation_change(
        is_update=True,
        username="alice",
        obj=promotion({}),
        old_obj=promotion({KEY: "true"}),
        is_controller=IS_CONTROLLER,
    )
    assert isinstance(change, AnnotationChange)
    assert change.verb == "remove"
    assert change.changed
    assert not change.by_controller
    assert change.forbidden
