"""Ratcheting on UPDATE, through the stand-in and the chart's server process.

The objects here were stored before the webhook was installed (or while it was down under
`failurePolicy: Ignore`): Kargo accepted them, and they break a rule only this webhook enforces,
a label value with a space. Without ratcheting every later write to them is denied, including
the finalizer removal that their deletion, and their namespace's, waits on. Deletion itself
exempts nothing: the stand-in, as the API server, takes spec updates of an object being deleted.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import pytest

from tests.e2e.apiserver import ApiServer, Call, Result
from tests.e2e.cluster import PROJECT, Installation, install
from tests.e2e.objects import ALICE, ANNOTATION
from tests.support.reviews import project_config, promotion

pytestmark = pytest.mark.integration

VALIDATE: Final = "projectconfigs.validate.kargo-rollback-webhook"
AUDIT: Final = f"{VALIDATE}/unenforced-errors"
LABELS: Final = "spec.promotionPolicies[0].stageSelector.matchLabels"
FINALIZER: Final = "kargo.akuity.io/finalizer"
REFRESH: Final = "kargo.akuity.io/refresh"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param({}, id="chart defaults"),
        pytest.param({"defaultMatchConditions": False}, id="every write sent"),
    ],
)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installation]:
    """A store of its own (these tests create and delete objects), with the chart's defaults,
    whose matchConditions keep metadata-only UPDATEs away from the webhook, and with every write
    sent, where the webhook's own ratcheting admits them."""
    with install(request.param, tmp_path_factory.mktemp("ratcheting")) as installation:
        yield installation


def conditions_on(cluster: Installation) -> bool:
    return all(hook.match_conditions for hook in cluster.api.webhooks)


@contextmanager
def webhooks_absent(api: ApiServer) -> Iterator[None]:
    """The cluster before the chart was installed: no webhook configurations at all."""
    saved, api.webhooks = api.webhooks, []
    try:
        yield
    finally:
        api.webhooks = saved


def stored_before_the_webhook(api: ApiServer, obj: dict[str, Any]) -> dict[str, Any]:
    with webhooks_absent(api):
        result = api.create(obj, user=ALICE)
    assert result.code == 201, result.status
    assert result.object is not None
    return result.object


@pytest.fixture
def existing(cluster: Installation) -> Iterator[dict[str, Any]]:
    """A stored ProjectConfig with a finalizer and a label value this webhook rejects."""
    obj = project_config([{"stageSelector": {"matchLabels": {"tier": "front end"}}}])
    obj["metadata"]["finalizers"] = [FINALIZER]
    stored = stored_before_the_webhook(cluster.api, obj)
    yield stored
    cluster.api.store.pop(("projectconfigs", "kargo.akuity.io", PROJECT, PROJECT), None)


def assert_allowed_with_the_old_error(cluster: Installation, result: Result) -> None:
    """Admitted: without a call under the chart's conditions (the spec is unchanged), else by
    the webhook, the old error shown as a warning and recorded for the audit log."""
    assert result.code == 200, result.status
    if conditions_on(cluster):
        assert result.calls == []
        assert AUDIT not in result.audit
        return
    assert result.calls == [Call(VALIDATE, 0, "allowed")]
    assert any(
        w.startswith(f"unchanged, not enforced: {LABELS}: Invalid value: ") for w in result.warnings
    ), result.warnings
    assert result.audit[AUDIT] == f"1 error unchanged, not enforced: {LABELS}"


def test_the_same_object_is_denied_on_create(cluster: Installation) -> None:
    """The reproduction's premise: the rule holds on CREATE, as it always did."""
    obj = project_config([{"stageSelector": {"matchLabels": {"tier": "front end"}}}])
    result = cluster.api.create(obj, user=ALICE)
    assert result.code == 422, result.status
    assert result.status is not None
    assert [c["field"] for c in result.status["details"]["causes"]] == [LABELS]


def test_adding_a_label_passes(cluster: Installation, existing: dict[str, Any]) -> None:
    obj = copy.deepcopy(existing)
    obj["metadata"]["labels"] = {"team": "payments"}
    result = cluster.api.update(obj, user=ALICE)
    assert_allowed_with_the_old_error(cluster, result)
    assert result.object is not None
    assert result.object["metadata"]["labels"] == {"team": "payments"}


def test_kargo_refresh_annotation_passes(cluster: Installation, existing: dict[str, Any]) -> None:
    obj = copy.deepcopy(existing)
    obj["metadata"]["annotations"] = {REFRESH: "2026-11-26T14:40:01Z"}
    assert_allowed_with_the_old_error(cluster, cluster.api.update(obj, user=ALICE))


def test_removing_the_finalizer_while_deleting_lets_the_object_go(
    cluster: Installation, existing: dict[str, Any]
) -> None:
    api = cluster.api
    deleted = api.delete(existing, user=ALICE)
    assert deleted.code == 200, deleted.status
    marked = api.get("ProjectConfig", PROJECT, PROJECT)
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]

    # What the namespace controller and Kargo wait on: the finalizer's owner removes it.
    marked["metadata"]["finalizers"] = []
    result = api.update(marked, user=ALICE)
    assert result.code == 200, result.status
    if conditions_on(cluster):
        assert result.calls == []
    else:
        assert result.calls == [Call(VALIDATE, 0, "allowed")]
        assert result.audit[AUDIT] == f"1 error unchanged, not enforced: {LABELS}"
    assert api.get("ProjectConfig", PROJECT, PROJECT) is None


def test_deleting_is_no_bypass(cluster: Installation, existing: dict[str, Any]) -> None:
    """A user's own finalizer keeps the object being deleted; its spec is still enforced."""
    api = cluster.api
    assert api.delete(existing, user=ALICE).code == 200
    marked = api.get("ProjectConfig", PROJECT, PROJECT)
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]
    marked["spec"]["promotionPolicies"][0]["stageSelector"]["matchLabels"]["tier"] = "back end"
    marked["spec"]["promotionPolicies"].append({"stageSelector": {"name": "regex:("}})
    result = api.update(marked, user=ALICE)
    assert result.code == 422, result.status
    assert result.status is not None
    assert [c["field"] for c in result.status["details"]["causes"]] == [
        LABELS,
        "spec.promotionPolicies[1].stageSelector.name",
    ]
    stored = api.get("ProjectConfig", PROJECT, PROJECT)
    assert stored is not None
    assert stored["spec"] == existing["spec"]


def test_an_operator_changed_with_values_still_missing_is_denied(cluster: Installation) -> None:
    requirement = {"key": "tier", "operator": "In"}
    obj = project_config([{"stageSelector": {"matchExpressions": [requirement]}}])
    stored = stored_before_the_webhook(cluster.api, obj)
    try:
        changed = copy.deepcopy(stored)
        expressions = changed["spec"]["promotionPolicies"][0]["stageSelector"]["matchExpressions"]
        expressions[0]["operator"] = "NotIn"
        result = cluster.api.update(changed, user=ALICE)
        assert result.code == 422, result.status
        assert result.status is not None
        assert [c["field"] for c in result.status["details"]["causes"]] == [
            "spec.promotionPolicies[0].stageSelector.matchExpressions[0].values"
        ]
    finally:
        cluster.api.store.pop(("projectconfigs", "kargo.akuity.io", PROJECT, PROJECT), None)


@pytest.fixture
def many_errors(cluster: Installation) -> Iterator[dict[str, Any]]:
    """A stored ProjectConfig with 150 errors: more than an answer's 100 causes."""
    policies = [{"stageSelector": {"matchLabels": {"t": f"bad {i}"}}} for i in range(150)]
    stored = stored_before_the_webhook(cluster.api, project_config(policies))
    yield stored
    cluster.api.store.pop(("projectconfigs", "kargo.akuity.io", PROJECT, PROJECT), None)


def test_fixing_one_of_more_than_a_hundred_errors_passes(
    cluster: Installation, many_errors: dict[str, Any]
) -> None:
    obj = copy.deepcopy(many_errors)
    obj["spec"]["promotionPolicies"][130] = {"stage": "fixed"}
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 200, result.status
    assert result.audit[AUDIT].startswith("149 errors unchanged, not enforced: ")


def test_appending_a_valid_policy_to_more_than_a_hundred_errors_passes(
    cluster: Installation, many_errors: dict[str, Any]
) -> None:
    obj = copy.deepcopy(many_errors)
    obj["spec"]["promotionPolicies"].append({"stage": "prod"})
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 200, result.status
    assert result.audit[AUDIT].startswith("150 errors unchanged, not enforced: ")


def test_a_bad_value_changed_into_another_is_denied(
    cluster: Installation, existing: dict[str, Any]
) -> None:
    obj = copy.deepcopy(existing)
    obj["spec"]["promotionPolicies"][0]["stageSelector"]["matchLabels"]["tier"] = "back end"
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 422, result.status
    assert result.status is not None
    assert [c["field"] for c in result.status["details"]["causes"]] == [LABELS]
    assert '"back end"' in result.message
    stored = cluster.api.get("ProjectConfig", PROJECT, PROJECT)
    assert stored is not None
    assert stored["spec"] == existing["spec"]


def test_a_new_error_is_denied_and_the_old_one_shown(
    cluster: Installation, existing: dict[str, Any]
) -> None:
    obj = copy.deepcopy(existing)
    obj["spec"]["promotionPolicies"].append({"stageSelector": {"name": "regex:("}})
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 422, result.status
    assert result.status is not None
    causes = [c["field"] for c in result.status["details"]["causes"]]
    assert causes == ["spec.promotionPolicies[1].stageSelector.name"]
    assert any(w.startswith(f"unchanged, not enforced: {LABELS}") for w in result.warnings)


def test_fixing_the_error_passes_without_warnings(
    cluster: Installation, existing: dict[str, Any]
) -> None:
    obj = copy.deepcopy(existing)
    obj["spec"]["promotionPolicies"][0]["stageSelector"]["matchLabels"]["tier"] = "frontend"
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 200, result.status
    assert result.warnings == []
    assert AUDIT not in result.audit


def test_the_rollback_annotation_guard_is_not_ratcheted(cluster: Installation) -> None:
    """A Promotion a user marked as a rollback before the webhook existed stays as it was."""
    stored = stored_before_the_webhook(
        cluster.api, promotion(name="before-the-webhook", annotations={ANNOTATION: "true"})
    )
    obj = copy.deepcopy(stored)
    obj["metadata"]["annotations"][ANNOTATION] = "false"
    result = cluster.api.update(obj, user=ALICE)
    assert result.code == 200, result.status
    assert result.object is not None
    assert result.object["metadata"]["annotations"] == {ANNOTATION: "true"}
    assert any("restored" in w for w in result.warnings)

    del obj["metadata"]["annotations"]
    result = cluster.api.update(obj, user=ALICE)
    assert result.object is not None
    assert result.object["metadata"]["annotations"] == {ANNOTATION: "true"}


def test_delete_is_not_sent_to_the_webhooks(cluster: Installation) -> None:
    """The chart registers CREATE and UPDATE only: the stand-in's DELETE needs no admission."""
    stored = stored_before_the_webhook(cluster.api, promotion(name="to-delete"))
    result = cluster.api.delete(stored, user=ALICE)
    assert result.code == 200
    assert result.calls == []
    assert cluster.api.get("Promotion", PROJECT, "to-delete") is None
