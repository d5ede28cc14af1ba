"""The rollback-annotation guard as a cluster runs it: the chart's webhooks behind the stand-in."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.chart.helm import NAMESPACE, one
from tests.e2e.apiserver import Call
from tests.e2e.cluster import Installation
from tests.e2e.fake_webhook import Reply, answer, json_patch, serving
from tests.e2e.objects import ALICE, ANNOTATION, CONTROLLER
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

MUTATE = "promotions.mutate.kargo-rollback-webhook"
VALIDATE = "promotions.validate.kargo-rollback-webhook"


def annotations_of(obj: dict[str, Any] | None) -> dict[str, str]:
    assert obj is not None
    found: dict[str, str] = obj["metadata"].get("annotations") or {}
    return found


def test_user_create_is_stored_without_the_annotation(strip_mode: Installation) -> None:
    result = strip_mode.api.create(
        promotion(name="user-create", annotations={ANNOTATION: "true", "team": "a"}), user=ALICE
    )
    assert result.code == 201, result.status
    assert annotations_of(result.object) == {"team": "a"}
    stored = strip_mode.api.get("Promotion", "proj", "user-create")
    assert stored is not None
    assert annotations_of(stored) == {"team": "a"}
    assert [w for w in result.warnings if ANNOTATION in w and "removed" in w]
    assert all(len(w) < 120 for w in result.warnings)
    # Once the annotation is stripped the write no longer changes it: the validating webhook's
    # matchConditions are false and it is not called.
    assert result.calls == [Call(MUTATE, 0, "patched")]
    assert result.audit[f"{MUTATE}/rollback-annotation"].startswith("stripped")
    assert "mutation.webhook.admission.k8s.io/round_0_index_0" in result.audit


def test_controller_create_keeps_the_annotation(strip_mode: Installation) -> None:
    result = strip_mode.api.create(
        promotion(name="controller-create", annotations={ANNOTATION: "true"}), user=CONTROLLER
    )
    assert result.code == 201, result.status
    assert annotations_of(result.object) == {ANNOTATION: "true"}
    assert result.warnings == []
    # The controller's writes never reach the webhooks (the chart's matchConditions).
    assert result.calls == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(None, id="annotation removed"),
        pytest.param("false", id="annotation changed"),
    ],
)
def test_user_update_of_the_annotation_is_undone(
    strip_mode: Installation, change: str | None
) -> None:
    name = f"rollback-{'removed' if change is None else 'changed'}"
    created = strip_mode.api.create(
        promotion(name=name, annotations={ANNOTATION: "true"}), user=CONTROLLER
    )
    assert created.code == 201, created.status
    edited = created.object
    assert edited is not None
    if change is None:
        del edited["metadata"]["annotations"][ANNOTATION]
    else:
        edited["metadata"]["annotations"][ANNOTATION] = change

    result = strip_mode.api.update(edited, user=ALICE)

    assert result.code == 200, result.status
    assert annotations_of(result.object) == {ANNOTATION: "true"}
    assert [w for w in result.warnings if "restored" in w]
    assert result.calls == [Call(MUTATE, 0, "patched")]  # restored: nothing left to validate


def test_user_update_leaving_the_annotation_alone_passes_untouched(
    strip_mode: Installation,
) -> None:
    created = strip_mode.api.create(
        promotion(name="untouched", annotations={ANNOTATION: "true"}), user=CONTROLLER
    )
    edited = created.object
    assert edited is not None
    edited["metadata"]["labels"] = {"reviewed": "yes"}
    result = strip_mode.api.update(edited, user=ALICE)
    assert result.code == 200, result.status
    assert annotations_of(result.object) == {ANNOTATION: "true"}
    assert result.warnings == []
    # A write that leaves the annotation alone never reaches the webhooks.
    assert result.calls == []


@pytest.mark.parametrize("namespace", ["kube-system", NAMESPACE])
def test_excluded_namespaces_are_not_intercepted(strip_mode: Installation, namespace: str) -> None:
    obj = promotion(name="excluded", annotations={ANNOTATION: "true"}, namespace=namespace)
    result = strip_mode.api.create(obj, user=ALICE)
    assert result.code == 201, result.status
    assert result.calls == []
    assert annotations_of(result.object) == {ANNOTATION: "true"}


def test_deny_mode_has_no_mutating_webhook(deny_mode: Installation) -> None:
    kinds = [m["kind"] for m in deny_mode.manifests]
    assert "MutatingWebhookConfiguration" not in kinds
    assert one(deny_mode.manifests, "ValidatingWebhookConfiguration")


def test_deny_mode_denies_a_user_create_with_403(deny_mode: Installation) -> None:
    result = deny_mode.api.create(
        promotion(name="deny-user", annotations={ANNOTATION: "true"}), user=ALICE
    )
    assert result.code == 403
    assert result.status is not None
    assert result.status["reason"] == "Forbidden"
    assert result.message.startswith(f'admission webhook "{VALIDATE}" denied the request: ')
    assert ANNOTATION in result.message
    assert result.calls == [Call(VALIDATE, 0, "denied")]
    assert deny_mode.api.get("Promotion", "proj", "deny-user") is None


def test_deny_mode_lets_the_controller_through(deny_mode: Installation) -> None:
    result = deny_mode.api.create(
        promotion(name="deny-controller", annotations={ANNOTATION: "true"}), user=CONTROLLER
    )
    assert result.code == 201, result.status
    assert annotations_of(result.object) == {ANNOTATION: "true"}


def test_deny_mode_denies_a_user_removing_the_annotation(deny_mode: Installation) -> None:
    created = deny_mode.api.create(
        promotion(name="deny-remove", annotations={ANNOTATION: "true"}), user=CONTROLLER
    )
    edited = created.object
    assert edited is not None
    del edited["metadata"]["annotations"][ANNOTATION]
    result = deny_mode.api.update(edited, user=ALICE)
    assert result.code == 403
    assert "remove" in result.message


def test_annotations_that_are_not_strings_never_reach_a_webhook(
    strip_mode: Installation,
) -> None:
    obj = promotion(name="bad-annotations", annotations={ANNOTATION: True})
    result = strip_mode.api.create(obj, user=ALICE)
    assert result.code == 400
    assert "metadata.annotations" in result.message
    assert result.calls == []


def test_a_later_webhook_re_adding_the_annotation_is_undone_by_reinvocation(
    strip_mode: Installation, fake_certs: Path
) -> None:
    """reinvocationPolicy: IfNeeded: our webhook runs again after a later one changed the object."""

    def re_add(review: dict[str, Any]) -> Reply:
        obj = review["request"]["object"]
        if ANNOTATION in (obj["metadata"].get("annotations") or {}):
            return answer(review)
        op = {"op": "add", "path": "/metadata/annotations", "value": {ANNOTATION: "true"}}
        if obj["metadata"].get("annotations"):
            op = {"op": "add", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}
            op["value"] = "true"
        return answer(review, **json_patch([op]))

    with serving(fake_certs, "fake-webhook.example.svc", re_add) as (endpoint, port):
        strip_mode.routes[(endpoint.host, endpoint.port)] = ("127.0.0.1", port)
        webhooks = list(strip_mode.api.webhooks)
        strip_mode.api.add_webhooks([_third_party_mutating_webhook(endpoint.ca_bundle)])
        try:
            result = strip_mode.api.create(
                promotion(name="reinvoked", annotations={ANNOTATION: "true"}), user=ALICE
            )
        finally:
            strip_mode.api.webhooks[:] = webhooks

    assert result.code == 201, result.status
    assert annotations_of(result.object) == {}
    assert result.calls == [
        Call(MUTATE, 0, "patched"),
        Call("annotator.example.com", 0, "patched"),
        Call(MUTATE, 1, "patched"),
    ]


def _third_party_mutating_webhook(ca_bundle: bytes) -> dict[str, Any]:
    # Sorted after "krw-kargo-rollback-webhook": configurations are called in name order.
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "zz-annotator"},
        "webhooks": [
            {
                "name": "annotator.example.com",
                "clientConfig": {
                    "url": "https://fake-webhook.example.svc/mutate",
                    "caBundle": base64.b64encode(ca_bundle).decode(),
                },
                "rules": [
                    {
                        "apiGroups": ["kargo.akuity.io"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE"],
                        "resources": ["promotions"],
                    }
                ],
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "timeoutSeconds": 5,
            }
        ],
    }


def test_a_promotion_written_through_another_version_is_still_guarded(
    strip_mode: Installation,
) -> None:
    """matchPolicy: Equivalent: a request through a newer served version of the CRD is sent to
    the webhook converted to the version its rules name (v1alpha1)."""
    api = strip_mode.api
    (v1alpha1,) = [r for r in api.resources if r.kind == "Promotion"]
    v1alpha2 = dataclasses.replace(v1alpha1, version="v1alpha2")
    api.resources.append(v1alpha2)
    try:
        obj = promotion(name="other-version", annotations={ANNOTATION: "true"})
        obj["apiVersion"] = "kargo.akuity.io/v1alpha2"
        result = api.create(obj, user=ALICE)
    finally:
        api.resources.remove(v1alpha2)
    assert result.code == 201, result.status
    assert annotations_of(result.object) == {}
    assert result.calls == [Call(MUTATE, 0, "patched")]
