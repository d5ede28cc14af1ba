"""The decision log: its line, its batches, its clock."""

from __future__ import annotations

import asyncio

import orjson

from app.observability.decision_log import DecisionEntry, DecisionLog
from app.observability.logs import LOGGER_NAME


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
