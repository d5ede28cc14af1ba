"""What the endpoint records through: one decision counted, timed and logged."""

from __future__ import annotations

import logging
import time

import orjson
import pytest
from prometheus_client import generate_latest

from app.admission.responses import Decision
from app.admission.review import decode_review
from app.observability.logs import LOGGER_NAME
from app.observability.recorder import Observability
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


def test_actions_are_counted_only_for_the_webhooks_that_declare_them() -> None:
    """The guard's action comes from the dispatch table's mapping of a decision's `why`; no
    field of the generic `Decision` carries it."""
    obs = Observability(write_decisions=lambda _: None)
    obs.count_actions("guarded", {"forbidden": "denied"})
    req = decode_review(orjson.dumps(review(promotion({KEY: "true"}))))
    for webhook in ("guarded", "other"):
        obs.record(webhook, req, Decision(False, "forbidden"), 0.001)
    text = generate_latest(obs.registry).decode()
    assert 'krw_rollback_guard_actions_total{action="denied",webhook="guarded"} 1.0' in text
    assert 'webhook="other"' in text  # its request is counted ...
    assert 'krw_rollback_guard_actions_total{action="denied",webhook="other"}' not in text


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
