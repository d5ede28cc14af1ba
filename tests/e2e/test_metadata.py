"""System metadata as a cluster sets and guards it (tests/e2e/metadata.py), seen from a mutating
webhook and from the client."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apiserver import ApiServer
from tests.e2e.cluster import NAMESPACES, routes_resolver
from tests.e2e.fake_configuration import DNS_NAME, Switch, configuration
from tests.e2e.fake_webhook import Reply, answer, json_patch, serving
from tests.e2e.metadata import OPTIMISTIC_LOCK
from tests.e2e.objects import ALICE
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

CLIENT_SET = {
    "uid": "0b0b0b0b-client-set",
    "creationTimestamp": "2001-01-01T00:00:00Z",
    "deletionTimestamp": "2001-01-02T00:00:00Z",
    "deletionGracePeriodSeconds": 30,
    "selfLink": "/apis/kargo.akuity.io/v1alpha1/namespaces/proj/promotions/p",
    "generation": 7,
}


@dataclass
class Cluster:
    api: ApiServer
    switch: Switch

    def objects_seen(self) -> list[dict[str, Any]]:
        """The `object` of every review the mutating and validating webhooks were sent."""
        return [review["request"]["object"] for review in self.switch.seen]


@pytest.fixture
def cluster(fake_certs: Path) -> Iterator[Cluster]:
    switch = Switch()
    with serving(fake_certs, DNS_NAME, switch) as (endpoint, port):
        api = ApiServer(
            [
                configuration(endpoint.ca_bundle, name="mutate.example.com"),
                configuration(endpoint.ca_bundle, name="validate.example.com", mutating=False),
            ],
            resolve=routes_resolver({(DNS_NAME, 443): ("127.0.0.1", port)}),
            namespaces=NAMESPACES,
        )
        try:
            yield Cluster(api, switch)
        finally:
            api.transport.close()


def test_create_wipes_client_set_system_fields_before_the_mutating_webhooks(
    cluster: Cluster,
) -> None:
    obj = promotion(name="p")
    obj["metadata"].update(CLIENT_SET)
    obj["status"] = {"currentStep": 3}
    result = cluster.api.create(obj, user=ALICE)
    assert result.code == 201, result.status

    mutated_seen, validated_seen = cluster.objects_seen()
    for wiped in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        assert wiped not in mutated_seen["metadata"], wiped
    assert "selfLink" not in mutated_seen["metadata"]
    # Not wiped by the handler: generation and status are reset only by the strategy, after.
    assert mutated_seen["metadata"]["generation"] == 7
    assert mutated_seen["status"] == {"currentStep": 3}

    stored = result.object
    assert stored is not None
    assert stored["metadata"]["uid"] not in ("", CLIENT_SET["uid"])
    assert stored["metadata"]["creationTimestamp"] != CLIENT_SET["creationTimestamp"]
    assert stored["metadata"]["generation"] == 1
    assert "deletionTimestamp" not in stored["metadata"]
    assert "status" not in stored  # the status subresource: a create cannot set it
    assert validated_seen["metadata"]["uid"] == stored["metadata"]["uid"]


def test_a_uid_set_by_a_webhook_is_replaced(cluster: Cluster) -> None:
    def set_uid(review: dict[str, Any]) -> Reply:
        if "uid" in review["request"]["object"]["metadata"]:  # the validating call: after
            return answer(review)
        return answer(review, **json_patch([{"op": "add", "path": "/metadata/uid", "value": "w"}]))

    cluster.switch.behaviour = set_uid
    result = cluster.api.create(promotion(name="p"), user=ALICE)
    assert result.code == 201, result.status
    assert result.object is not None
    assert result.object["metadata"]["uid"] != "w"


def test_create_with_a_resource_version_fails_in_storage(cluster: Cluster) -> None:
    obj = promotion(name="p")
    obj["metadata"]["resourceVersion"] = "5"
    result = cluster.api.create(obj, user=ALICE)
    assert result.code == 500
    assert result.message == "resourceVersion should not be set on objects to be created"
    assert cluster.api.get("Promotion", "proj", "p") is None
    # A dry run stops before storage (k8s.io/apiserver `registry/generic/registry/
    # dryrun.go`, `DryRunnableStorage.Create`), so it never meets that check.
    assert cluster.api.create(obj, user=ALICE, dry_run=True).code == 201


def _stored(cluster: Cluster, status: dict[str, Any] | None = None) -> dict[str, Any]:
    result = cluster.api.create(promotion(name="p"), user=ALICE)
    assert result.object is not None
    key = ("promotions", "kargo.akuity.io", "proj", "p")
    if status is not None:  # as the controller would set it through /status
        cluster.api.store[key]["status"] = status
    cluster.switch.seen.clear()
    return copy.deepcopy(cluster.api.store[key])


def test_update_mutating_webhooks_see_the_clients_object_then_system_fields_are_restored(
    cluster: Cluster,
) -> None:
    stored = _stored(cluster, status={"currentStep": 1})
    edited = copy.deepcopy(stored)
    edited["metadata"]["generation"] = 40
    edited["metadata"]["creationTimestamp"] = "2001-01-01T00:00:00Z"
    edited["metadata"]["uid"] = ""
    edited["status"] = {"currentStep": 9}
    edited["spec"]["stage"] = "uat"
    result = cluster.api.update(edited, user=ALICE)
    assert result.code == 200, result.status

    mutated_seen, validated_seen = cluster.objects_seen()
    assert mutated_seen["metadata"]["generation"] == 40
    assert mutated_seen["metadata"]["creationTimestamp"] == "2001-01-01T00:00:00Z"
    assert mutated_seen["status"] == {"currentStep": 9}

    assert result.object is not None
    metadata = result.object["metadata"]
    assert metadata["uid"] == stored["metadata"]["uid"]
    assert metadata["creationTimestamp"] == stored["metadata"]["creationTimestamp"]
    assert metadata["generation"] == 2  # the spec changed
    assert result.object["status"] == {"currentStep": 1}
    assert validated_seen["metadata"] == metadata | {
        "resourceVersion": stored["metadata"]["resourceVersion"]
    }


def test_a_metadata_only_update_keeps_the_generation(cluster: Cluster) -> None:
    stored = _stored(cluster)
    edited = copy.deepcopy(stored)
    edited["metadata"]["labels"] = {"team": "a"}
    result = cluster.api.update(edited, user=ALICE)
    assert result.code == 200, result.status
    assert result.object is not None
    assert result.object["metadata"]["generation"] == 1


def test_a_stale_resource_version_is_a_conflict_after_the_mutating_webhooks(
    cluster: Cluster,
) -> None:
    stored = _stored(cluster)
    first = copy.deepcopy(stored)
    first["metadata"]["labels"] = {"team": "a"}
    assert cluster.api.update(first, user=ALICE).code == 200
    cluster.switch.seen.clear()

    stale = copy.deepcopy(stored)
    stale["metadata"]["labels"] = {"team": "b"}
    result = cluster.api.update(stale, user=ALICE)
    assert result.code == 409
    assert result.status is not None
    assert result.status["reason"] == "Conflict"
    assert result.message == (
        f'Operation cannot be fulfilled on promotions.kargo.akuity.io "p": {OPTIMISTIC_LOCK}'
    )
    assert result.status["details"] == {
        "name": "p",
        "group": "kargo.akuity.io",
        "kind": "promotions",
    }
    assert result.called() == ["mutate.example.com"]  # the validating webhook never saw it
    assert len(cluster.switch.seen) == 1


def test_an_update_without_a_resource_version_is_invalid(cluster: Cluster) -> None:
    edited = _stored(cluster)
    del edited["metadata"]["resourceVersion"]
    result = cluster.api.update(edited, user=ALICE)
    assert result.code == 422
    assert result.message == (
        'promotions.kargo.akuity.io "p" is invalid: metadata.resourceVersion: Invalid value: '
        "0x0: must be specified for an update"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("uid", "another-uid"),
        ("deletionTimestamp", "2001-01-02T00:00:00Z"),
        ("deletionGracePeriodSeconds", 30),
    ],
)
def test_changing_an_immutable_field_is_invalid(cluster: Cluster, key: str, value: Any) -> None:
    edited = _stored(cluster)
    edited["metadata"][key] = value
    result = cluster.api.update(edited, user=ALICE)
    assert result.code == 422, result.status
    assert f"metadata.{key}: Invalid value: " in result.message
    assert result.message.endswith(": field is immutable")
    assert result.called() == ["mutate.example.com"]


def test_an_update_that_changes_nothing_keeps_the_resource_version(cluster: Cluster) -> None:
    stored = _stored(cluster)
    result = cluster.api.update(copy.deepcopy(stored), user=ALICE)
    assert result.code == 200, result.status
    assert result.object is not None
    assert result.object["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
