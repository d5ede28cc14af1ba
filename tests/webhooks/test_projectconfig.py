"""The ProjectConfig webhook's decision, with ratcheting on UPDATE (decided directly, no HTTP).

The object in these cases is what exists wherever the webhook was installed after Kargo, or was
down under `failurePolicy: Ignore`: a ProjectConfig that Kargo accepted and that breaks a rule
only this webhook enforces (a label value with a space, which Kargo never checks).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.admission.responses import encode_response
from app.admission.review import decode_review
from app.admission.validating import AUDIT_KEY, MAX_UNENFORCED_SHOWN, ValidatingWebhook
from app.k8s.ratcheting import ratchet
from app.k8s.warnings import MAX_WARNING_CHARS, clip_warning
from app.kargo.projectconfig import validate_project_config
from app.webhooks.projectconfig import ProjectConfigRules
from tests.support.reviews import project_config, review
from tests.webhooks.projectconfig_cases import (
    BAD,
    CASES,
    WINDOWED,
    Case,
    add_label,
    append_policy,
    edited,
    refresh,
)

decide_project_config = ValidatingWebhook(ProjectConfigRules(schema="any")).decide


def decide(case: Case) -> tuple[Any, dict[str, Any]]:
    operation = "CREATE" if case.old is None else "UPDATE"
    body = review(case.new, operation=operation, old=case.old, kind="ProjectConfig")
    req = decode_review(orjson.dumps(body))
    decision = decide_project_config(req)
    answer = orjson.loads(encode_response(req.api_version, req.uid, decision))["response"]
    return decision, answer


@pytest.mark.parametrize("case", CASES)
def test_decision(case: Case) -> None:
    decision, answer = decide(case)
    assert answer["allowed"] is case.allowed, answer
    if case.reason:
        assert decision.why == case.reason
    if case.allowed:
        assert "status" not in answer
    else:
        assert answer["status"]["code"] == 422
        assert [c["field"] for c in answer["status"]["details"]["causes"]] == case.denied_fields
    warnings = [w for w in answer.get("warnings", []) if "not enforced" in w]
    assert [w.split(": ")[1] for w in warnings] == case.unenforced
    assert all(len(w) < MAX_WARNING_CHARS for w in answer.get("warnings", []))
    audit = answer.get("auditAnnotations", {})
    if case.allowed and case.unenforced:
        count = len(case.unenforced)
        assert audit[AUDIT_KEY].startswith(f"{count} error{'s' if count > 1 else ''} ")
        assert all(f in audit[AUDIT_KEY] for f in case.unenforced)
    else:
        assert AUDIT_KEY not in audit


def test_many_old_errors_give_bounded_warnings_and_audit() -> None:
    """An object with a thousand old errors: a few warnings and one count, not a thousand."""
    policies = [{"stageSelector": {"matchLabels": {"t": f"bad {i}"}}} for i in range(1000)]
    old = project_config(policies)
    _decision, answer = decide(Case(edited(old, add_label), old))
    assert answer["allowed"] is True
    assert len(answer["warnings"]) == MAX_UNENFORCED_SHOWN + 1
    assert answer["warnings"][-1].endswith(f"{1000 - MAX_UNENFORCED_SHOWN} more errors")
    audit = answer["auditAnnotations"][AUDIT_KEY]
    assert audit.startswith("1000 errors unchanged, not enforced: ")
    assert audit.endswith(f"and {1000 - MAX_UNENFORCED_SHOWN} more errors")
    assert len(audit) < 1000


def test_delete_and_connect_are_not_validated() -> None:
    for operation in ("DELETE", "CONNECT"):
        body = review(None, operation=operation, old=BAD, kind="ProjectConfig")
        decision = decide_project_config(decode_review(orjson.dumps(body)))
        assert decision.allowed
        assert decision.why == "not-validated-operation"


@pytest.mark.parametrize(
    "old",
    [
        pytest.param(BAD, id="a bad label value"),
        pytest.param(WINDOWED, id="a projectSelector"),
        pytest.param(
            project_config([{"stage": "dev"}, {"stage": "dev", "stageSelector": {}}]),
            id="a duplicate and both selectors",
        ),
    ],
)
def test_an_unchanged_spec_keeps_exactly_what_ratcheting_would(old: dict[str, Any]) -> None:
    """The shortcut for an unchanged spec agrees with validating the old object and ratcheting."""
    new = edited(old, add_label, refresh)
    errors = validate_project_config(new, operation="UPDATE", schema="any").errors
    old_errors = validate_project_config(old, operation="UPDATE", schema="any").errors
    split = ratchet(errors, old_errors, obj=new, old_obj=old)
    assert errors
    assert not split.enforced
    decision, answer = decide(Case(new, old))
    assert decision.why == "existing-errors"
    expected = [clip_warning(f"unchanged, not enforced: {e}") for e in split.kept]
    assert [w for w in answer["warnings"] if "not enforced" in w] == expected


def many_bad(count: int) -> dict[str, Any]:
    """An object stored with `count` errors, more than an answer's 100 causes."""
    return project_config(
        [{"stageSelector": {"matchLabels": {"t": f"bad {i}"}}} for i in range(count)]
    )


def test_fixing_one_of_more_than_a_hundred_old_errors_passes() -> None:
    old = many_bad(150)
    new = edited(old, lambda o: o["spec"]["promotionPolicies"][120].update(stage="fixed"))
    new["spec"]["promotionPolicies"][120].pop("stageSelector")
    decision, answer = decide(Case(new, old))
    assert answer["allowed"] is True, answer.get("status")
    assert decision.why == "existing-errors"
    assert answer["auditAnnotations"][AUDIT_KEY].startswith("149 errors unchanged, not enforced")


def test_appending_a_valid_policy_to_more_than_a_hundred_old_errors_passes() -> None:
    old = many_bad(150)
    decision, answer = decide(Case(edited(old, append_policy({"stage": "prod"})), old))
    assert answer["allowed"] is True, answer.get("status")
    assert decision.why == "existing-errors"


def test_a_new_error_past_the_hundredth_is_denied_alone() -> None:
    """The new error is found though the verdict kept only the first hundred errors."""
    old = many_bad(150)
    new = edited(old, append_policy({"stageSelector": {"matchLabels": {"t": "new bad"}}}))
    _decision, answer = decide(Case(new, old))
    assert answer["allowed"] is False
    causes = answer["status"]["details"]["causes"]
    assert [c["field"] for c in causes] == ["spec.promotionPolicies[150].stageSelector.matchLabels"]
    assert "new bad" in causes[0]["message"]
