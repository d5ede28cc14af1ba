"""autoscaling.enabled: an autoscaling/v2 HorizontalPodAutoscaler on CPU owns the replica count,
and the PodDisruptionBudget still lets a pod be evicted at the autoscaler's minimum."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import (
    CHART_DIR,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    helm_with_values,
    of_kind,
    one,
    render,
    render_error,
)

ON: dict[str, Any] = {"autoscaling": {"enabled": True}}


def test_off_by_default_and_the_deployment_keeps_its_replicas() -> None:
    manifests = render()
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []
    assert one(manifests, "Deployment")["spec"]["replicas"] == 2


def test_the_autoscaler_scales_the_deployment_on_cpu() -> None:
    manifests = render(ON)
    hpa = one(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["namespace"] == NAMESPACE
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": FULLNAME,
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 75},
            },
        }
    ]
    assert "behavior" not in spec
    deployment = one(manifests, "Deployment")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    # Utilization is a share of the request: the container has one.
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]


def test_the_values_reach_the_autoscaler() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 600}}
    values = {
        "autoscaling": {
            "enabled": True,
            "minReplicas": 3,
            "maxReplicas": 9,
            "targetCPUUtilizationPercentage": 50,
            "behavior": behavior,
        }
    }
    spec = one(render(values), "HorizontalPodAutoscaler")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 9)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert spec["behavior"] == behavior


def test_the_budget_selects_the_pods_the_autoscaler_scales() -> None:
    manifests = render(ON)
    budget = one(manifests, "PodDisruptionBudget")["spec"]
    pods = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= pods.items()
    assert budget["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("budget", "autoscaling"),
    [
        pytest.param({"minAvailable": 1}, {"minReplicas": 2}, id="minAvailable below the minimum"),
        pytest.param({"minAvailable": 2}, {"minReplicas": 3}, id="minAvailable 2 of 3"),
        pytest.param({"minAvailable": "50%"}, {"minReplicas": 2}, id="a percentage"),
        pytest.param({"maxUnavailable": 1}, {"minReplicas": 2}, id="maxUnavailable 1"),
        pytest.param({"enabled": False, "minAvailable": 5}, {"minReplicas": 2}, id="no budget"),
    ],
)
def test_budgets_that_allow_an_eviction_at_the_minimum(
    budget: dict[str, Any], autoscaling: dict[str, Any]
) -> None:
    values = {"podDisruptionBudget": budget, "autoscaling": {"enabled": True, **autoscaling}}
    assert one(render(values), "HorizontalPodAutoscaler")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            {"podDisruptionBudget": {"minAvailable": 2}},
            "podDisruptionBudget.minAvailable (2) must be below autoscaling.minReplicas (2)",
            id="minAvailable equal to the minimum",
        ),
        pytest.param(
            {"podDisruptionBudget": {"minAvailable": "100%"}},
            "minAvailable 100% never lets a pod be evicted",
            id="minAvailable 100%",
        ),
        pytest.param(
            {"podDisruptionBudget": {"maxUnavailable": 0}},
            "maxUnavailable 0 never lets a pod be evicted",
            id="maxUnavailable 0",
        ),
        pytest.param(
            {"autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 3}},
            "autoscaling.maxReplicas (3) must be at least autoscaling.minReplicas (4)",
            id="maximum below minimum",
        ),
        pytest.param(
            {"resources": {"requests": {"cpu": None, "memory": "96Mi"}}},
            "autoscaling.enabled needs resources.requests.cpu",
            id="no CPU request",
        ),
    ],
)
def test_inconsistent_settings_fail_the_render(values: dict[str, Any], message: str) -> None:
    merged = {**values, "autoscaling": {"enabled": True, **values.get("autoscaling", {})}}
    assert message in render_error(merged)


def test_no_single_replica_warning_with_autoscaling() -> None:
    values = {"replicaCount": 1, **ON}
    result = helm_with_values(
        ["install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client"], values
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stdout.split("NOTES:", 1)[1]
