"""The Prometheus metrics: each recorded through its method, exposed as prometheus-client would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.observability.metrics import LATENCY_BUCKETS, DecisionMetrics, Metrics

RECORDS = [
    ("promotion-mutate", "CREATE", "patched", "stripped", 0.000_05),
    ("promotion-mutate", "CREATE", "patched", "stripped", 0.000_1),  # on a bound: le="0.0001"
    ("promotion-mutate", "UPDATE", "patched", "restored", 0.003),
    ("promotion-mutate", "CREATE", "allowed", None, 0.000_7),
    ("promotion-validate", "UPDATE", "denied", "denied", 0.02),
    ("projectconfig-validate", "CREATE", "error", None, 12.5),  # past the last bound: +Inf
    ("projectconfig-validate", "CREATE", "allowed", None, 0.0),
]


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if family.name.startswith(
            ("krw_admission_requests", "krw_admission_duration", "krw_rollback")
        )
    }


def test_decision_metrics_expose_what_prometheus_client_metrics_would() -> None:
    ours = CollectorRegistry()
    metrics = DecisionMetrics()
    ours.register(metrics)
    reference = CollectorRegistry()
    requests = Counter(
        "krw_admission_requests", "", ["webhook", "operation", "decision"], registry=reference
    )
    latency = Histogram(
        "krw_admission_duration_seconds",
        "",
        ["webhook"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    guard = Counter("krw_rollback_guard_actions", "", ["webhook", "action"], registry=reference)
    for webhook, operation, outcome, action, duration in RECORDS:
        metrics.record(webhook, operation, outcome, action, duration)
        requests.labels(webhook, operation, outcome).inc()
        latency.labels(webhook).observe(duration)
        if action is not None:
            guard.labels(webhook, action).inc()

    got, want = _samples(ours), _samples(reference)
    assert got.keys() == want.keys()
    created = {key for key in want if key[0].endswith("_created")}
    assert len(created) == 6 + 3 + 3  # one per label set of each metric
    for key, value in want.items():
        if key not in created:
            assert got[key] == pytest.approx(value), key
    text = generate_latest(ours).decode()
    assert (
        'krw_admission_duration_seconds_bucket{le="0.0001",webhook="promotion-mutate"} 2.0' in text
    )
    assert (
        'krw_admission_duration_seconds_bucket{le="+Inf",webhook="projectconfig-validate"} 2.0'
        in text
    )


def test_each_counter_is_recorded_through_its_method() -> None:
    metrics = Metrics()
    metrics.record_error("w", "malformed-object")
    metrics.record_tls_reload("success")
    metrics.record_tls_expiry(1_900_000_000.0)
    metrics.record_overload()
    metrics.record_connection_closed("max-connections")
    text = generate_latest(metrics.registry).decode()
    assert 'krw_admission_errors_total{error="malformed-object",webhook="w"} 1.0' in text
    assert 'krw_tls_certificate_reloads_total{result="success"} 1.0' in text
    assert "krw_tls_certificate_expiry_timestamp_seconds 1.9e+09" in text
    assert "krw_overload_rejections_total 1.0" in text
    assert 'krw_connections_closed_total{reason="max-connections"} 1.0' in text
    assert 'krw_connections_closed_total{reason="write-timeout"} 0.0' in text
