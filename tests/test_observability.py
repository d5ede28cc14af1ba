"""Decision logs and metrics."""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from app.admission.responses import Decision
from app.admission.review import decode_review
from app.observability import (
    LATENCY_BUCKETS,
    LOGGER_NAME,
    DecisionEntry,
    DecisionLog,
    DecisionMetrics,
    Observability,
)
from tests.support.reviews import KEY, promotion, review


def _decision() -> Decision:
    return Decision(True, "stripped", patch=[{"op": "remove", "path": "/x"}])


def test_one_json_line_per_decision_without_the_object(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    lines: list[bytes] = []
    obs = Observability(write_decisions=lines.append)
    secret = "not-for-the-log"
    req = decode_review(orjson.dumps(review(promotion({KEY: secret}), uid="u-1", username="bob")))
    obs.record("promotion-mutate", req, _decision(), 0.000_25)
    assert len(lines) == 1
    assert lines[0].endswith(b"\n")
    entry = orjson.loads(lines[0])
    assert entry["msg"] == "admission decision"
    assert entry["uid"] == "u-1"
    assert entry["username"] == "bob"
    assert entry["decision"] == "patched"
    assert entry["duration_ms"] == 0.25
    assert entry["ts"].endswith("Z")
    assert secret.encode() not in lines[0]


def test_no_decision_line_above_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    lines: list[bytes] = []
    obs = Observability(write_decisions=lines.append)
    req = decode_review(orjson.dumps(review(promotion({}))))
    obs.record("promotion-mutate", req, _decision(), 0.001)
    assert lines == []


def _entry(uid: str, time: float = 1_764_168_001.1234) -> DecisionEntry:
    return DecisionEntry(
        time=time,
        webhook="promotion-mutate",
        uid=uid,
        kind="Promotion",
        namespace="proj",
        name="p",
        operation="CREATE",
        username="bob",
        dry_run=False,
        decision="allowed",
        reason="unchanged",
        duration=0.000_1234,
    )


def test_decision_log_writes_at_once_without_an_event_loop() -> None:
    writes: list[bytes] = []
    log = DecisionLog(writes.append)
    log(_entry("a"))
    log(_entry("b"))
    assert [orjson.loads(w)["uid"] for w in writes] == ["a", "b"]


def test_decision_log_formats_the_documented_line() -> None:
    writes: list[bytes] = []
    DecisionLog(writes.append)(_entry("u-9"))
    assert orjson.loads(writes[0]) == {
        "ts": "2025-11-26T14:40:01.123Z",
        "level": "info",
        "logger": LOGGER_NAME,
        "msg": "admission decision",
        "webhook": "promotion-mutate",
        "uid": "u-9",
        "kind": "Promotion",
        "namespace": "proj",
        "name": "p",
        "operation": "CREATE",
        "username": "bob",
        "dry_run": False,
        "decision": "allowed",
        "reason": "unchanged",
        "duration_ms": 0.123,
    }


def test_decision_log_batches_on_the_event_loop_and_flushes_in_time() -> None:
    writes: list[bytes] = []

    async def scenario() -> None:
        log = DecisionLog(writes.append, max_delay=0.05)
        for i in range(100):
            log(_entry(f"u-{i}"))
        assert writes == []  # nothing yet: one write will carry the batch
        await asyncio.sleep(0.15)

    asyncio.run(scenario())
    assert len(writes) == 1
    lines = writes[0].splitlines()
    assert [orjson.loads(line)["uid"] for line in lines] == [f"u-{i}" for i in range(100)]


def test_decision_log_writes_when_full_and_on_flush() -> None:
    writes: list[bytes] = []

    async def scenario() -> None:
        log = DecisionLog(writes.append, max_entries=2, max_delay=60)
        log(_entry("a"))
        assert writes == []
        log(_entry("b"))  # the second entry fills the batch
        assert len(writes) == 1
        assert writes[0].count(b"\n") == 2
        log(_entry("tail"))
        log.flush()
        assert orjson.loads(writes[-1])["uid"] == "tail"

    asyncio.run(scenario())


def test_line_clock_formats_milliseconds_across_seconds() -> None:
    writes: list[bytes] = []
    log = DecisionLog(writes.append)
    for stamp in (1_764_168_001.0004, 1_764_168_001.9996, 1_764_168_002.0, 1_764_168_002.5):
        log(_entry("x", time=stamp))
    stamps = [orjson.loads(w)["ts"] for w in writes]
    assert stamps == [
        "2025-11-26T14:40:01.000Z",
        "2025-11-26T14:40:01.999Z",
        "2025-11-26T14:40:02.000Z",
        "2025-11-26T14:40:02.500Z",
    ]


# What record() is fed, in order, and what prometheus-client's own metrics make of it.
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


def test_the_registry_carries_the_process_metrics_of_this_process() -> None:
    obs = Observability(write_decisions=lambda _: None)
    values = {
        sample.name: sample.value
        for family in obs.registry.collect()
        for sample in family.samples
        if sample.name.startswith("process_")
    }
    # The names the dashboard's memory and CPU panels and docs/reference.md's metrics table use.
    assert {
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    } <= values.keys()
    # Read from /proc for this very process: its memory is in use and its start is in the past.
    assert values["process_resident_memory_bytes"] > 1024 * 1024
    assert 0 < values["process_start_time_seconds"] <= time.time()
    assert values["process_open_fds"] >= 3


def test_two_observabilities_in_one_process_do_not_collide() -> None:
    # Each has its own registry, so the process collector registers twice without a clash.
    first = Observability(write_decisions=lambda _: None)
    second = Observability(write_decisions=lambda _: None)
    assert b"process_open_fds" in generate_latest(first.registry)
    assert b"process_open_fds" in generate_latest(second.registry)
