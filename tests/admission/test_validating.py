"""The validating adapter with a resource that is not one of the webhook's: only rules and a
GroupKind supplied, every answer the adapter's (the worked example of docs/architecture.md).

The rules are the example's: a Stage's `spec.shard` must be a string, and every item of
`spec.tags` too (a list, so one object can hold more errors than an answer reports).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import pytest

from app.admission.responses import encode_response
from app.admission.review import AdmissionRequest, GroupVersionKind, decode_review
from app.admission.validating import (
    AUDIT_KEY,
    GroupKind,
    Observer,
    Validated,
    ValidatingWebhook,
)
from app.k8s.field import MAX_REPORTED_ERRORS, ErrorList, FieldPath, type_invalid
from app.k8s.ratcheting import same_json
from app.k8s.warnings import WarningList
from tests.support.reviews import review

_SPEC: Final = FieldPath.root("spec")


class StageVerdict:
    def __init__(self, errors: ErrorList, warnings: WarningList) -> None:
        self.errors = errors
        self.warnings = warnings


class StageRules:
    """A third resource's rules: all `ValidatingWebhook` asks of it."""

    group_kind = GroupKind("kargo.akuity.io", "Stage")

    def validate(
        self, obj: dict[str, object], operation: Validated, observer: Observer | None
    ) -> StageVerdict:
        errors, warnings = ErrorList(observer=observer), WarningList()
        spec = obj.get("spec")
        if isinstance(spec, dict):
            if "shard" in spec and not isinstance(spec["shard"], str):
                errors.append(type_invalid(_SPEC.child("shard"), spec["shard"], "string"))
            for i, tag in enumerate(spec.get("tags") or []):
                if not isinstance(tag, str):
                    errors.append(type_invalid(_SPEC.child("tags").index(i), tag, "string"))
        if operation == "CREATE" and not spec:
            warnings.append("a Stage without a spec promotes nothing")
        return StageVerdict(errors, warnings)

    def unchanged(self, obj: dict[str, object], old_obj: dict[str, object]) -> bool:
        return same_json(obj.get("spec"), old_obj.get("spec"))


DECIDE = ValidatingWebhook(StageRules()).decide


def stage(spec: dict[str, Any] | None, *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "prod", "namespace": "shop"}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": metadata} | (
        {"spec": spec} if spec is not None else {}
    )


def answer(obj: dict[str, Any] | None, *, operation: str = "CREATE", old: Any = None) -> Any:
    req = decode_review(orjson.dumps(review(obj, operation=operation, old=old, kind="Stage")))
    decision = DECIDE(req)
    return decision, orjson.loads(encode_response(req.api_version, req.uid, decision))["response"]


def test_a_valid_create_is_allowed_with_the_rules_warnings() -> None:
    decision, response = answer(stage({}))
    assert decision.why == "valid"
    assert response["allowed"] is True
    assert response["warnings"] == ["a Stage without a spec promotes nothing"]


def test_an_invalid_create_is_denied_422_naming_the_group_kind() -> None:
    decision, response = answer(stage({"shard": 7, "tags": ["a", 1]}))
    assert decision.why == "invalid"
    status = response["status"]
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"].startswith('Stage.kargo.akuity.io "prod" is invalid: [spec.shard: ')
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.shard", "spec.tags[1]"]
    assert status["details"]["kind"] == "Stage"


def test_an_update_of_labels_keeps_old_errors_as_warnings_and_audit() -> None:
    old = stage({"shard": 7})
    decision, response = answer(stage({"shard": 7}, labels={"a": "b"}), operation="UPDATE", old=old)
    assert decision.why == "existing-errors"
    assert response["allowed"] is True
    assert response["warnings"][0].startswith("unchanged, not enforced: spec.shard: ")
    assert response["auditAnnotations"][AUDIT_KEY] == "1 error unchanged, not enforced: spec.shard"


def test_an_update_denies_only_the_new_error() -> None:
    old = stage({"shard": 7, "tags": ["a"]})
    new = stage({"shard": 7, "tags": ["a", 2]})
    decision, response = answer(new, operation="UPDATE", old=old)
    assert decision.why == "invalid"
    assert [c["field"] for c in response["status"]["details"]["causes"]] == ["spec.tags[1]"]
    assert [w.split(": ")[1] for w in response["warnings"]] == ["spec.shard"]


def test_old_errors_past_the_answers_limit_are_all_compared() -> None:
    """Every error is sorted, past the verdict's limit: none of the old ones denies."""
    tags: list[object] = [0] * (MAX_REPORTED_ERRORS + 50)
    old = stage({"tags": tags})
    decision, response = answer(stage({"tags": tags, "shard": "s"}), operation="UPDATE", old=old)
    assert decision.why == "existing-errors"
    audit = response["auditAnnotations"][AUDIT_KEY]
    assert audit.startswith(f"{MAX_REPORTED_ERRORS + 50} errors unchanged, not enforced: ")


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_not_validated(operation: str) -> None:
    decision, response = answer(None, operation=operation, old=stage({"shard": 7}))
    assert decision.why == "not-validated-operation"
    assert response["allowed"] is True


def test_an_unknown_operation_is_refused_not_allowed() -> None:
    """decode_review refuses it first; the adapter does not allow what it does not know."""
    request = AdmissionRequest(
        api_version="admission.k8s.io/v1",
        uid="u",
        kind=GroupVersionKind("kargo.akuity.io", "v1alpha1", "Stage"),
        operation="PATCH",  # type: ignore[arg-type]  # what decoding would refuse
        name="prod",
        namespace="shop",
        username="alice",
        obj=stage({}),
        old_obj=None,
        dry_run=False,
    )
    decision = DECIDE(request)
    assert not decision.allowed
    assert decision.is_error
    assert decision.status is not None
    assert decision.status["code"] == 400
    assert decision.status["message"] == 'unknown operation "PATCH"'
