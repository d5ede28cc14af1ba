"""values.schema.json refuses typos and out-of-range values before anything is rendered, and
names the offending value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.helm import render, render_error

BAD_VALUES = [
    pytest.param({"timeoutSeconds": 31}, "/timeoutSeconds", id="timeoutSeconds above 30"),
    pytest.param({"timeoutSeconds": 0}, "/timeoutSeconds", id="timeoutSeconds below 1"),
    pytest.param({"timeoutSeconds": "5"}, "/timeoutSeconds", id="timeoutSeconds as a string"),
    pytest.param({"failurePolicy": "Maybe"}, "/failurePolicy", id="failurePolicy Maybe"),
    pytest.param({"failurePolicy": "fail"}, "/failurePolicy", id="failurePolicy lower case"),
    pytest.param({"controller": {"usernames": []}}, "/controller/usernames", id="no usernames"),
    pytest.param({"controller": {"usernames": [""]}}, "/controller/usernames", id="empty username"),
    pytest.param(
        {"controller": {"usernames": ["system:serviceaccount:kargo:a,b"]}},
        "/controller/usernames",
        id="username with a comma",
    ),
    pytest.param(
        {"controller": {"usernames": [" system:serviceaccount:kargo:kargo-controller"]}},
        "/controller/usernames",
        id="username with a leading space",
    ),
    pytest.param(
        {"controller": {"usernames": "system:serviceaccount:kargo:kargo-controller"}},
        "/controller/usernames",
        id="usernames as a string",
    ),
    pytest.param({"replicaCont": 3}, "additional properties 'replicaCont'", id="top-level typo"),
    pytest.param({"tls": {"mdoe": "helm"}}, "additional properties 'mdoe'", id="nested typo"),
    pytest.param(
        {"namespaceSelector": {"kargoProjectOnly": True}},
        "additional properties 'kargoProjectOnly'",
        id="typo in namespaceSelector",
    ),
    pytest.param(
        {"probes": {"readiness": {"periodSecond": 5}}},
        "additional properties 'periodSecond'",
        id="typo in a probe",
    ),
    pytest.param(
        {"rollbackAnnotation": {"mode": "warn"}}, "/rollbackAnnotation/mode", id="mode warn"
    ),
    pytest.param({"autoRollbackSchema": "both"}, "/autoRollbackSchema", id="schema both"),
    pytest.param({"replicaCount": 0}, "/replicaCount", id="no replicas"),
    pytest.param({"tls": {"mode": "vault"}}, "/tls/mode", id="unknown tls mode"),
    pytest.param({"tls": {"minVersion": "1.1"}}, "/tls/minVersion", id="TLS 1.1"),
    pytest.param({"server": {"port": 443}}, "/server/port", id="privileged port"),
    pytest.param({"server": {"logLevel": "trace"}}, "/server/logLevel", id="log level trace"),
    pytest.param({"image": {"digest": "latest"}}, "/image/digest", id="digest not a digest"),
    pytest.param(
        {"matchConditions": [{"name": "no-expression"}]}, "/matchConditions/0", id="condition"
    ),
    pytest.param(
        {"podSecurityContext": {"runAsUser": 0}}, "/podSecurityContext/runAsUser", id="root"
    ),
    pytest.param(
        {"tls": {"certManager": {"duration": "90d"}}},
        "/tls/certManager/duration",
        id="not a Go duration",
    ),
    pytest.param(
        {"serviceMonitor": {"interval": "30 seconds"}},
        "/serviceMonitor/interval",
        id="not a Prometheus duration",
    ),
    pytest.param(
        {"podDisruptionBudget": {"maxUnavailable": "50"}},
        "/podDisruptionBudget/maxUnavailable",
        id="percentage without %",
    ),
    pytest.param({"shutdown": {"drainSeconds": -1}}, "/shutdown/drainSeconds", id="negative drain"),
    pytest.param(
        {"kargo": {"namespace": "Kargo_NS"}}, "/kargo/namespace", id="namespace not a DNS label"
    ),
    pytest.param(
        {"autoscaling": {"enabled": True, "minReplicas": 1}},
        "/autoscaling/minReplicas",
        id="autoscaling down to one pod",
    ),
    pytest.param(
        {"autoscaling": {"targetCPUUtilizationPercentage": 0}},
        "/autoscaling/targetCPUUtilizationPercentage",
        id="CPU target 0",
    ),
    pytest.param(
        {"autoscaling": {"enabeld": True}}, "additional properties 'enabeld'", id="autoscaling typo"
    ),
    pytest.param(
        {"prometheusRule": {"runbookBaseURL": "https://example.com/README.md#operating"}},
        "/prometheusRule/runbookBaseURL",
        id="runbook address with a fragment",
    ),
    pytest.param(
        {"prometheusRule": {"certificateExpiryWarningDays": 0}},
        "/prometheusRule/certificateExpiryWarningDays",
        id="certificate warning 0 days",
    ),
    pytest.param(
        {"prometheusRule": {"decisionLatencyP99Seconds": 0}},
        "/prometheusRule/decisionLatencyP99Seconds",
        id="latency threshold 0",
    ),
    pytest.param(
        {"prometheusRule": {"label": {"release": "prometheus"}}},
        "additional properties 'label'",
        id="prometheusRule typo",
    ),
    pytest.param(
        {"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}},
        "/grafanaDashboard/labels/grafana_dashboard",
        id="dashboard label not a string",
    ),
]


@pytest.mark.parametrize(("values", "pointer"), BAD_VALUES)
def test_schema_refuses(values: dict[str, Any], pointer: str) -> None:
    error = render_error(values)
    assert "values don't meet the specifications of the schema" in error
    assert pointer in error


GOOD_VALUES = [
    pytest.param({"timeoutSeconds": 1, "failurePolicy": "Ignore"}, id="lowest timeout"),
    pytest.param({"timeoutSeconds": 30}, id="highest timeout"),
    pytest.param(
        {"controller": {"usernames": ["system:serviceaccount:kargo:kargo-controller-a", "alice"]}},
        id="several usernames",
    ),
    pytest.param({"podDisruptionBudget": {"maxUnavailable": "50%"}}, id="percentage"),
    pytest.param({"tls": {"minVersion": "1.3"}}, id="TLS 1.3"),
    pytest.param(
        {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 2}}, id="fixed at two"
    ),
    pytest.param(
        {"prometheusRule": {"enabled": True, "decisionLatencyP99Seconds": 1}},
        id="latency threshold as an integer",
    ),
]


@pytest.mark.parametrize("values", GOOD_VALUES)
def test_schema_accepts(values: dict[str, Any]) -> None:
    assert render(values)
