"""ProjectConfig writes through the stand-in: the CRD's schema, then the validating webhook."""

from __future__ import annotations

import pytest

from tests.e2e.apiserver import Call
from tests.e2e.cluster import Installation
from tests.e2e.objects import ALICE
from tests.support.reviews import project_config

pytestmark = pytest.mark.integration

VALIDATE = "projectconfigs.validate.kargo-rollback-webhook"
POLICIES = "spec.promotionPolicies"


def test_a_good_project_config_is_stored(strip_mode: Installation) -> None:
    obj = project_config(
        [
            {"stage": "dev", "autoPromotionEnabled": True},
            {"stageSelector": {"name": "prod"}, "autoRollback": {"onPromotion": ["Failed"]}},
        ]
    )
    result = strip_mode.api.create(obj, user=ALICE)
    assert result.code == 201, result.status
    assert result.calls == [Call(VALIDATE, 0, "allowed")]
    assert result.object is not None
    assert result.object["spec"]["promotionPolicies"][1]["autoRollback"] == {
        "onPromotion": ["Failed"]
    }
    # Stored, so an update that leaves the spec as it was is admitted without a call (the
    # chart's matchConditions), and one that changes it is validated again.
    result = strip_mode.api.update(result.object, user=ALICE)
    assert result.code == 200, result.status
    assert result.calls == []
    assert result.object is not None
    result.object["spec"]["promotionPolicies"][0]["autoPromotionEnabled"] = False
    result = strip_mode.api.update(result.object, user=ALICE)
    assert result.code == 200, result.status
    assert result.calls == [Call(VALIDATE, 0, "allowed")]


def test_a_bad_project_config_is_denied_with_field_paths(strip_mode: Installation) -> None:
    # Each error passes the CRD's schema (no CEL rule covers it): only the webhook catches it.
    obj = project_config(
        [
            {"stage": "prod"},
            {"stageSelector": {"name": "prod"}},
            {
                "stageSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "Contains", "values": ["x"]}],
                    "matchLabels": {"bad key!": "v"},
                }
            },
        ],
        namespace="proj",
    )
    obj["metadata"]["name"] = "other"
    result = strip_mode.api.create(obj, user=ALICE)

    assert result.code == 422, result.status
    assert result.status is not None
    assert result.message.startswith(f'admission webhook "{VALIDATE}" denied the request: ')
    causes = {c["field"]: c for c in result.status["details"]["causes"]}
    assert causes["metadata.name"]["reason"] == "FieldValueInvalid"
    assert "must match project name" in causes["metadata.name"]["message"]
    assert "already defined at spec.promotionPolicies[0]" in causes[f"{POLICIES}[1]"]["message"]
    assert f"{POLICIES}[2].stageSelector.matchExpressions[0].operator" in causes
    assert any(f.startswith(f"{POLICIES}[2].stageSelector.matchLabels") for f in causes)
    assert strip_mode.api.get("ProjectConfig", "proj", "other") is None


def test_a_project_selector_on_a_window_is_denied(strip_mode: Installation) -> None:
    """Kargo's API rejects it on a ProjectConfig; its CRD accepts it, so the webhook must."""
    obj = project_config([{"stage": "prod"}])
    obj["spec"]["promotionWindows"] = [
        {"name": "freeze", "kind": "Deny", "projectSelector": {"name": "proj"}},
        {"name": "weekend", "kind": "Deny", "stageSelector": {"name": "prod"}},
    ]
    result = strip_mode.api.create(obj, user=ALICE)
    assert result.code == 422, result.status
    assert result.status is not None
    causes = result.status["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [
        ("spec.promotionWindows[0].projectSelector", "FieldValueForbidden")
    ]
    assert "the Project is implicit" in causes[0]["message"]


def test_schema_errors_are_answered_before_the_webhook(strip_mode: Installation) -> None:
    """The CRD's pattern for `stage` rejects at the schema step: no webhook is called."""
    result = strip_mode.api.create(project_config([{"stage": "Not_A_Name"}]), user=ALICE)
    assert result.code == 422
    assert result.status is not None
    assert result.message.startswith('ProjectConfig.kargo.akuity.io "proj" is invalid')
    assert [c["field"] for c in result.status["details"]["causes"]] == [f"{POLICIES}[0].stage"]
    assert result.calls == []


def test_unknown_fields_are_pruned_before_the_webhook_sees_them(strip_mode: Installation) -> None:
    obj = project_config([{"stage": "qa", "autoRollback": {"onFailedPromotions": True}}])
    obj["metadata"]["namespace"] = obj["metadata"]["name"] = "kargo"
    obj["spec"]["surprise"] = 1
    result = strip_mode.api.create(obj, user=ALICE)
    assert result.code == 201, result.status
    assert result.object is not None
    # The CRD at Kargo's HEAD has only the upstream autoRollback shape.
    assert result.object["spec"] == {"promotionPolicies": [{"stage": "qa", "autoRollback": {}}]}
