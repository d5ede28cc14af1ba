"""Decision logs and metrics."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from app.admission.responses import Decision
from app.admission.review import decode_review
from app.observability import LOGGER_NAME, LineBuffer, Observability
from tests.support.reviews import KEY, promotion, review


def _decision() -> Decision:
    return Decision(True, "stripped", patch=[{"op": "remove", "path": "/x"}])


def test_one_json_line_per_decision_without_the_object(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    lines: list[bytes] = []
    obs = Observability(decision_sink=lines.append)
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
    obs = Observability(decision_sink=lines.append)
    req = decode_review(orjson.dumps(review(promotion({}))))
    obs.record("promotion-mutate", req, _decision(), 0.001)
    assert lines == []


def test_line_buffer_writes_at_once_without_an_event_loop() -> None:
    writes: list[bytes] = []
    buffer = LineBuffer(writes.append)
    buffer(b"a\n")
    buffer(b"b\n")
    assert writes == [b"a\n", b"b\n"]


def test_line_buffer_batches_on_the_event_loop_and_flushes_in_time() -> None:
    writes: list[bytes] = []

    async def scenario() -> None:
        buffer = LineBuffer(writes.append, max_delay=0.05)
        for i in range(100):
            buffer(b"%d\n" % i)
        assert writes == []  # nothing yet: one write will carry the batch
        await asyncio.sleep(0.15)

    asyncio.run(scenario())
    assert writes == [b"".join(b"%d\n" % i for i in range(100))]


def test_line_buffer_writes_when_full_and_on_flush() -> None:
    writes: list[bytes] = []

    async def scenario() -> None:
        buffer = LineBuffer(writes.append, max_bytes=10, max_delay=60)
        buffer(b"12345\n")
        assert writes == []
        buffer(b"67890\n")  # 12 bytes: over the limit
        assert writes == [b"12345\n67890\n"]
        buffer(b"tail\n")
        buffer.flush()
        assert writes[-1] == b"tail\n"

    asyncio.run(scenario())
