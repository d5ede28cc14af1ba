"""Memory bounded by design: the largest review the server accepts, against a real process.

Each case starts its own server (a process's peak resident memory, VmHWM, only grows), sends
one review as large as `--max-body-bytes` allows, of a shape that is cheap to send and costly
to hold, and meanwhile sends small reviews with `?timeout=1s`. Once, a 1.6 MB review of
`{stage: s}` policies got a 27 MB answer and took the server to 290 MB; 6.4 MB took it to 913 MB.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.config import DEFAULT_MAX_BODY_BYTES
from app.k8s.field import MAX_REPORTED_ERRORS
from app.k8s.status import OMITTED_ERRORS_REASON
from app.k8s.warnings import MAX_WARNINGS
from app.kargo.constants import PROJECT_CONFIG_VALIDATE_PATH
from tests.support.reviews import project_config, review
from tests.support.server import ServerProcess

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}
MiB = 1024 * 1024
PEAK_LIMIT = 200 * MiB
SMALL_TIMEOUT = 1.0


def _filled(policy: Any) -> bytes:
    """A ProjectConfig review of copies of `policy`, as close under the body limit as it gets."""
    empty = len(orjson.dumps(review(project_config([]), uid="big")))
    each = len(orjson.dumps(policy)) + 1
    count = (DEFAULT_MAX_BODY_BYTES - empty) // each
    body = orjson.dumps(review(project_config([policy] * count), uid="big"))
    assert DEFAULT_MAX_BODY_BYTES - each <= len(body) <= DEFAULT_MAX_BODY_BYTES
    return body


def _peak_bytes(server: ServerProcess) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    kib = next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]
    return int(kib) * 1024


@pytest.fixture
def fresh_server(certs: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(certs=certs, log_path=tmp_path / "server.log").start()
    yield proc
    proc.stop()


@pytest.mark.parametrize(
    ("policy", "errors", "warnings"),
    [
        # 1.2 million policies: the densest JSON there is, each one an error.
        pytest.param({}, True, False, id="empty policies"),
        # One duplicate-name error per policy, the reported attack.
        pytest.param({"stage": "s"}, True, False, id="duplicate stage names"),
        # One warning per policy ("selects every Stage").
        pytest.param({"stageSelector": {}}, False, True, id="empty selectors"),
        # Errors that quote a 4,000-character pattern each.
        pytest.param(
            {"stageSelector": {"name": "regex:(" + "\u00e9" * 4_000}},
            True,
            False,
            id="long regexes",
        ),
    ],
)
def test_the_largest_review_stays_small_while_others_are_answered(
    fresh_server: ServerProcess, policy: Any, errors: bool, warnings: bool
) -> None:
    body = _filled(policy)
    small = orjson.dumps(review(project_config([{"stage": "a"}]), uid="small"))
    big: dict[str, Any] = {}

    def send_big() -> None:
        with fresh_server.client(timeout=60) as c:
            started = time.perf_counter()
            r = c.post(PROJECT_CONFIG_VALIDATE_PATH + "?timeout=30s", content=body, headers=JSON)
            big["seconds"] = time.perf_counter() - started
            big["response"] = r

    latencies: list[float] = []
    with fresh_server.client(timeout=10) as c:
        c.get("/readyz")  # the connection is open before the big review arrives
        thread = threading.Thread(target=send_big)
        thread.start()
        while thread.is_alive() or len(latencies) < 3:
            started = time.perf_counter()
            r = c.post(
                PROJECT_CONFIG_VALIDATE_PATH + f"?timeout={SMALL_TIMEOUT:g}s",
                content=small,
                headers=JSON,
            )
            latencies.append(time.perf_counter() - started)
            assert r.status_code == 200
            assert r.json()["response"]["allowed"] is True, r.text
            time.sleep(0.01)
        thread.join()

    assert max(latencies) < SMALL_TIMEOUT, (latencies, big["seconds"])
    peak = _peak_bytes(fresh_server)
    assert peak < PEAK_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"

    response: httpx.Response = big["response"]
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["uid"] == "big"
    # 100 causes, each quoting at most 256 characters of value and 512 of detail and path, in
    # the causes and again in the message: about 320 kB with two-byte characters.
    assert len(response.content) < 512 * 1024
    assert answer["allowed"] is not errors
    if errors:
        causes = answer["status"]["details"]["causes"]
        assert len(causes) == MAX_REPORTED_ERRORS + 1
        assert causes[-1]["reason"] == OMITTED_ERRORS_REASON
        assert causes[-1]["message"].endswith("more errors not shown")
    if warnings:
        assert len(answer["warnings"]) == MAX_WARNINGS
        assert answer["warnings"][-1].endswith("more warnings not shown")
