"""The webhook configurations: the server's routes, the rules, and the settings that decide
whether a broken webhook takes the cluster down with it."""

from __future__ import annotations

from typing import Any

import pytest

from app.kargo import constants
from tests.chart.helm import (
    FULLNAME,
    NAMESPACE,
    Manifest,
    container,
    of_kind,
    one,
    render,
    webhooks,
)
from tests.chart.scenarios import SCENARIO_NAMES, all_scenarios, modes

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROJECT_LABEL = "kargo.akuity.io/project"


def _routes(manifests: list[Manifest], kind: str) -> set[tuple[str, str]]:
    """(resource, path) of every webhook of the configuration of `kind`."""
    return {
        (resource, hook["clientConfig"]["service"]["path"])
        for configuration in of_kind(manifests, kind)
        for hook in configuration["webhooks"]
        for rule in hook["rules"]
        for resource in rule["resources"]
    }


def test_strip_mode_routes_each_resource_to_the_servers_path() -> None:
    manifests = render(modes("helm", "strip"))
    assert _routes(manifests, "MutatingWebhookConfiguration") == {
        (constants.PROMOTION_RESOURCE, constants.PROMOTION_MUTATE_PATH)
    }
    assert _routes(manifests, "ValidatingWebhookConfiguration") == {
        (constants.PROJECT_CONFIG_RESOURCE, constants.PROJECT_CONFIG_VALIDATE_PATH),
        (constants.PROMOTION_RESOURCE, constants.PROMOTION_VALIDATE_PATH),
    }


def test_deny_mode_has_no_mutating_webhook_and_keeps_both_validating_ones() -> None:
    manifests = render(modes("helm", "deny"))
    assert of_kind(manifests, "MutatingWebhookConfiguration") == []
    assert _routes(manifests, "ValidatingWebhookConfiguration") == {
        (constants.PROJECT_CONFIG_RESOURCE, constants.PROJECT_CONFIG_VALIDATE_PATH),
        (constants.PROMOTION_RESOURCE, constants.PROMOTION_VALIDATE_PATH),
    }


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_webhook_has_the_safe_fixed_settings(scenario: str) -> None:
    hooks = webhooks(render(all_scenarios()[scenario]))
    assert hooks
    for hook in hooks:
        assert hook["admissionReviewVersions"] == ["v1", "v1beta1"]
        assert hook["sideEffects"] == "None"
        assert hook["matchPolicy"] == "Equivalent"
        assert 1 <= hook["timeoutSeconds"] <= 30
        (rule,) = hook["rules"]
        assert rule["apiGroups"] == [constants.GROUP]
        assert rule["apiVersions"] == [constants.VERSION]
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert rule["scope"] == "Namespaced"


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_webhooks_call_the_charts_service_on_its_port(scenario: str) -> None:
    manifests = render(all_scenarios()[scenario])
    service = one(manifests, "Service")
    (port,) = service["spec"]["ports"]
    # The Service's named target port is the container's HTTPS port.
    (container_port,) = container(manifests)["ports"]
    assert port["targetPort"] == container_port["name"] == "https"
    assert port["port"] == 443
    for hook in webhooks(manifests):
        assert hook["clientConfig"]["service"] == {
            "name": service["metadata"]["name"],
            "namespace": NAMESPACE,
            "path": hook["clientConfig"]["service"]["path"],
            "port": port["port"],
        }


def test_webhook_names_are_unique_qualified_names() -> None:
    names = [hook["name"] for hook in webhooks(render(modes("helm", "strip")))]
    assert len(names) == len(set(names)) == 3
    # The API server requires a fully qualified name of at least three segments.
    assert all(len(name.split(".")) >= 3 for name in names)


def test_only_the_mutating_webhook_is_reinvoked() -> None:
    manifests = render()
    (mutating,) = one(manifests, "MutatingWebhookConfiguration")["webhooks"]
    assert mutating["reinvocationPolicy"] == "IfNeeded"
    for hook in one(manifests, "ValidatingWebhookConfiguration")["webhooks"]:
        assert "reinvocationPolicy" not in hook


def test_failure_policy_and_timeout_default_to_fail_and_five_seconds() -> None:
    for hook in webhooks(render()):
        assert hook["failurePolicy"] == "Fail"
        assert hook["timeoutSeconds"] == 5


@pytest.mark.parametrize(
    ("failure_policy", "timeout"), [("Ignore", 1), ("Fail", 30), ("Ignore", 12)]
)
def test_failure_policy_and_timeout_follow_the_values(failure_policy: str, timeout: int) -> None:
    for hook in webhooks(render({"failurePolicy": failure_policy, "timeoutSeconds": timeout})):
        assert hook["failurePolicy"] == failure_policy
        assert hook["timeoutSeconds"] == timeout


def _excluded_namespaces(hook: Manifest) -> set[str]:
    (expression,) = [
        e for e in hook["namespaceSelector"]["matchExpressions"] if e["key"] == NAMESPACE_NAME_LABEL
    ]
    assert expression["operator"] == "NotIn"
    return set(expression["values"])


@pytest.mark.parametrize("namespace", [NAMESPACE, "kargo", "webhooks"])
def test_kube_system_and_the_release_namespace_are_never_intercepted(namespace: str) -> None:
    for hook in webhooks(render(namespace=namespace)):
        assert _excluded_namespaces(hook) == {"kube-system", namespace}
        assert "objectSelector" not in hook


def test_namespace_selector_can_be_narrowed_to_kargo_projects() -> None:
    values: dict[str, Any] = {
        "namespaceSelector": {"kargoProjectsOnly": True, "excludedNamespaces": ["sandbox"]}
    }
    for hook in webhooks(render(values)):
        expressions = hook["namespaceSelector"]["matchExpressions"]
        assert {"key": PROJECT_LABEL, "operator": "In", "values": ["true"]} in expressions
        assert _excluded_namespaces(hook) == {"kube-system", NAMESPACE, "sandbox"}


def test_all_namespaces_but_the_excluded_are_intercepted_by_default() -> None:
    for hook in webhooks(render()):
        keys = [e["key"] for e in hook["namespaceSelector"]["matchExpressions"]]
        assert keys == [NAMESPACE_NAME_LABEL]


def test_users_match_conditions_are_copied_to_every_webhook() -> None:
    conditions = [
        {
            "name": "not-a-node",
            "expression": "!request.userInfo.username.startsWith('system:node:')",
        },
        {"name": "has-metadata", "expression": "has(object.metadata)"},
    ]
    hooks = webhooks(render({"matchConditions": conditions, "defaultMatchConditions": False}))
    assert len(hooks) == 3
    assert all(hook["matchConditions"] == conditions for hook in hooks)


def test_configurations_are_named_after_the_release() -> None:
    manifests = render()
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        assert one(manifests, kind)["metadata"]["name"] == FULLNAME
