"""The one deadline of every decision, in process: inline decisions, the worker, the uid peek.

What the real server does with it under attack (a slot kept until the worker lets go, a 504
that leaves no queued work) is tests/serving/test_abuse.py; here each rule is set up exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, NoReturn

import orjson
import pytest

from app.admission.http import ARRIVAL_KEY, KEEP_SLOT_KEY, AdmissionEndpoint, WebhookSpec
from app.admission.responses import allowed
from app.admission.review import PEEK_BYTES, AdmissionRequest, GroupVersionKind, peek_uid
from app.k8s.cooperative import pause
from app.observability.recorder import Observability
from app.serving.concurrency import DecisionSlots, Slot
from tests.support.polling import until
from tests.support.reviews import promotion, review

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


GVK = GroupVersionKind("kargo.akuity.io", "v1alpha1", "Promotion")
# What the API server sends, in Go's field order (k8s.io/api admission/v1 types.go).
GO_ORDER = (
    b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1",'
    b'"request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"kargo.akuity.io",'
)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        pytest.param(
            GO_ORDER + b"...never decoded",
            ("705ab4f5-6393-11e8-b7cc-42010a800002", "admission.k8s.io/v1beta1"),
            id="the API server's order, the rest not even JSON",
        ),
        pytest.param(
            b'{"apiVersion": "admission.k8s.io/v1", "request": { "uid" : "u-1", "x": 1}}',
            ("u-1", "admission.k8s.io/v1"),
            id="spaces between tokens",
        ),
        pytest.param(
            b'{"kind":"AdmissionReview","request":{"kind":{},"uid":"late"}}',
            (None, None),
            id="uid not first in request: not found",
        ),
        pytest.param(
            b'{"x":"\\"request\\":{\\"uid\\":\\"forged\\"","request":{}}',
            (None, None),
            id="inside a string: not found",
        ),
        pytest.param(
            b'{"pad":"' + b" " * PEEK_BYTES + b'","request":{"uid":"far"}}',
            (None, None),
            id="past the first bytes: not looked for",
        ),
    ],
)
def test_peek_uid(body: bytes, found: tuple[str | None, str | None]) -> None:
    assert peek_uid(body) == found


def _endpoint(decide: Any, **kwargs: Any) -> AdmissionEndpoint:
    spec = WebhookSpec("test-hook", "/x", GVK, decide)
    return AdmissionEndpoint(spec, max_body_bytes=1 << 20, recorder=Observability(), **kwargs)


async def _call(
    endpoint: AdmissionEndpoint,
    body: bytes,
    *,
    query: bytes = b"timeout=1s",
    arrived: float | None = None,
    slot: Slot | None = None,
) -> tuple[int, dict[str, Any]]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "query_string": query,
        "headers": [(b"content-type", b"application/json")],
    }
    if arrived is not None:
        scope[ARRIVAL_KEY] = arrived
    if slot is not None:
        scope[KEEP_SLOT_KEY] = slot
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)
    return sent[0]["status"], orjson.loads(sent[1]["body"])["response"]


async def test_an_inline_decision_already_late_is_refused_undecided() -> None:
    decided: list[str] = []

    def policy(request: AdmissionRequest) -> Any:
        decided.append(request.uid)
        return allowed("fine")

    endpoint = _endpoint(policy)
    body = orjson.dumps(review(promotion({}), uid="late-1"))
    past = asyncio.get_running_loop().time() - 2.0  # headers came 2 s ago, timeout 1 s
    status, answer = await _call(endpoint, body, arrived=past)
    assert (status, answer["uid"], answer["allowed"]) == (200, "late-1", False)
    assert answer["status"]["code"] == 504
    assert decided == []
    status, answer = await _call(endpoint, orjson.dumps(review(promotion({}), uid="on-time")))
    assert (status, answer["allowed"], decided) == (200, True, ["on-time"])


async def test_an_abandoned_decision_keeps_its_slot_until_the_worker_lets_go() -> None:
    """The first review's decision outlives its 504; the slot stays kept until it ends. The
    second review waits for the worker on the loop, is refused at its deadline, and is never
    decided: nothing queues behind the abandoned decision."""
    release = threading.Event()
    decided: list[str] = []

    def slow(request: AdmissionRequest) -> Any:
        decided.append(request.uid)
        release.wait(10)
        return allowed("late")

    endpoint = _endpoint(slow, offload_bytes=0)
    # The transport's own slots, as the protocol puts them into the scope (the connection's
    # give-back after the answer is done by hand below, as `on_response_complete` does).
    slots = DecisionSlots(limit=2, byte_limit=1 << 20, on_reject=lambda: None)
    slot_a, slot_b = slots.take(10, "api-server"), slots.take(10, "api-server")
    assert slot_a is not None
    assert slot_b is not None

    try:
        started = time.monotonic()
        first, second = await asyncio.gather(
            _call(endpoint, orjson.dumps(review(promotion({}), uid="a")), slot=slot_a),
            _call(endpoint, orjson.dumps(review(promotion({}), uid="b")), slot=slot_b),
        )
        elapsed = time.monotonic() - started
        assert [first[1]["uid"], second[1]["uid"]] == ["a", "b"]
        assert first[1]["status"]["code"] == second[1]["status"]["code"] == 504
        assert elapsed < 1.0
        assert decided == ["a"]  # "b" never reached the worker
        for answered in (slot_a, slot_b):
            if not answered.kept:
                answered.give_back()  # the connection's give-back once the answer is written
        assert slots.in_flight == 1  # "a" is still being decided: its slot is kept
        assert slot_a.kept
        assert not slot_b.kept
    finally:
        release.set()
    await until(lambda: slots.in_flight == 0, seconds=2.0)
    assert (slots.in_flight, slots.bytes_in_flight) == (0, 0)
    # The worker is free again: the next review is decided.
    status, answer = await _call(
        endpoint, orjson.dumps(review(promotion({}), uid="c")), query=b"timeout=5s"
    )
    assert (status, answer["allowed"]) == (200, True)


class _Endless:
    """A decision that goes through the rules' pause points (`app.k8s.cooperative.pause`)
    until it is cut short, counting them."""

    def __init__(self) -> None:
        self.steps = 0

    def __call__(self, request: AdmissionRequest) -> NoReturn:
        while True:
            pause()
            self.steps += 1

    async def goes_no_further(self) -> bool:
        """Whether it makes no more progress (it was cut short, not left running)."""
        stopped_at = self.steps
        await asyncio.sleep(0.05)
        return self.steps == stopped_at


async def test_an_abandoned_decision_is_cut_short_at_its_next_pause_point() -> None:
    """A decision that goes through the rules' pause points does not outlive its 504 for long:
    it stops at the next pause point, and its kept slot comes back without anyone releasing
    it."""
    endless = _Endless()
    endpoint = _endpoint(endless, offload_bytes=0)
    slots = DecisionSlots(limit=2, byte_limit=1 << 20, on_reject=lambda: None)
    slot = slots.take(10, "api-server")
    assert slot is not None
    status, answer = await _call(endpoint, orjson.dumps(review(promotion({}), uid="a")), slot=slot)
    assert (status, answer["uid"], answer["status"]["code"]) == (200, "a", 504)
    assert slot.kept  # the connection does not give it back: the worker does
    await until(lambda: slots.in_flight == 0, seconds=1.0)
    assert (slots.in_flight, slots.bytes_in_flight) == (0, 0)
    assert endless.steps > 0
    assert await endless.goes_no_further()  # it does not go on in the background


async def test_a_decision_whose_request_is_cancelled_is_cut_short() -> None:
    """At shutdown the requests still running are cancelled: a decision in the worker, running
    or paused, then ends at its next pause point, so no worker thread outlives the process's
    exit (the executor's threads are joined at exit)."""
    endless = _Endless()
    endpoint = _endpoint(endless, offload_bytes=0)
    slots = DecisionSlots(limit=2, byte_limit=1 << 20, on_reject=lambda: None)
    slot = slots.take(10, "api-server")
    assert slot is not None
    body = orjson.dumps(review(promotion({}), uid="a"))
    call = asyncio.create_task(_call(endpoint, body, query=b"timeout=30s", slot=slot))
    await until(lambda: endless.steps > 0, seconds=1.0)
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    await until(lambda: slots.in_flight == 0, seconds=1.0)
    assert slot.kept  # given back by the worker, once its thread let go
    assert slots.in_flight == 0
    assert await endless.goes_no_further()


async def test_a_late_refusal_without_a_uid_is_a_4xx_never_a_5xx() -> None:
    release = threading.Event()

    def slow(request: AdmissionRequest) -> Any:
        release.wait(10)
        return allowed("late")

    endpoint = _endpoint(slow, offload_bytes=0)
    kind = {"group": GVK.group, "version": GVK.version, "kind": GVK.kind}
    request: dict[str, object] = {"kind": kind}
    request |= {"uid": "not-first", "operation": "CREATE", "object": {}}
    envelope = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    body = orjson.dumps(envelope | {"request": request})  # a valid review, uid not first
    try:
        status, answer = await _call(endpoint, body)
    finally:
        release.set()
    assert status == 408
    assert answer["uid"] == ""
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 504
