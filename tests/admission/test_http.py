"""The HTTP layer through the real FastAPI app (httpx ASGI transport, no network)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
import orjson
import pytest

from app.admission.http import (
    DEFAULT_TIMEOUT_SECONDS,
    AdmissionEndpoint,
    WebhookSpec,
    answer_budget,
    request_timeout,
)
from app.admission.responses import allowed
from app.admission.review import AdmissionRequest, GroupVersionKind
from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from app.observability.recorder import Observability
from tests.support.app import client
from tests.support.reviews import CONTROLLER, KEY, project_config, promotion, review

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _post(path: str, body: Any, **settings: Any) -> tuple[int, dict[str, Any]]:
    c, _ = client(**settings)
    async with c:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        r = await c.post(path + "?timeout=10s", content=data, headers=JSON)
    return r.status_code, r.json()


async def test_mutating_path_strips_a_users_annotation() -> None:
    body = review(promotion({KEY: "true", "keep": "me"}), uid="abc")
    code, answer = await _post(PROMOTION_MUTATE_PATH, body)
    assert code == 200
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == "abc"
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    assert orjson.loads(base64.b64decode(response["patch"])) == [
        {"op": "remove", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}
    ]
    assert response["warnings"]
    assert "rollback-annotation" in response["auditAnnotations"]


async def test_v1beta1_is_answered_in_v1beta1() -> None:
    body = review(promotion({KEY: "true"}), api_version="admission.k8s.io/v1beta1")
    _, answer = await _post(PROMOTION_VALIDATE_PATH, body)
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 403


async def test_controller_is_allowed_without_patch() -> None:
    body = review(promotion({KEY: "true"}), username=CONTROLLER)
    _, answer = await _post(PROMOTION_MUTATE_PATH, body)
    assert answer["response"]["allowed"] is True
    assert "patch" not in answer["response"]


async def test_configured_usernames_replace_the_default() -> None:
    body = review(promotion({KEY: "true"}), username="system:serviceaccount:ops:kargo-controller-x")
    _, answer = await _post(
        PROMOTION_VALIDATE_PATH,
        body,
        controller_usernames=("system:serviceaccount:ops:kargo-controller-x",),
    )
    assert answer["response"]["allowed"] is True
    body = review(promotion({KEY: "true"}), username=CONTROLLER)
    _, answer = await _post(
        PROMOTION_VALIDATE_PATH,
        body,
        controller_usernames=("system:serviceaccount:ops:kargo-controller-x",),
    )
    assert answer["response"]["allowed"] is False


async def test_deny_mode_mutating_path_does_not_patch() -> None:
    body = review(promotion({KEY: "true"}))
    _, answer = await _post(PROMOTION_MUTATE_PATH, body, rollback_annotation_mode="deny")
    assert answer["response"]["allowed"] is True
    assert "patch" not in answer["response"]


async def test_bad_project_config_is_denied_with_field_paths() -> None:
    cfg = project_config(
        [{"stageSelector": {"name": "regex:("}}, {"stage": "a", "stageSelector": {"name": "b"}}],
        name="other",
    )
    _, answer = await _post(PROJECT_CONFIG_VALIDATE_PATH, review(cfg))
    status = answer["response"]["status"]
    assert answer["response"]["allowed"] is False
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {
        "metadata.name",
        "spec.promotionPolicies[0].stageSelector.name",
        "spec.promotionPolicies[1]",
    } <= fields
    assert status["message"].startswith('ProjectConfig.kargo.akuity.io "other" is invalid: [')


async def test_good_project_config_is_allowed() -> None:
    cfg = project_config([{"stage": "prod", "autoRollback": {"onVerification": ["Failed"]}}])
    _, answer = await _post(PROJECT_CONFIG_VALIDATE_PATH, review(cfg))
    assert answer["response"]["allowed"] is True


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            PROJECT_CONFIG_VALIDATE_PATH,
            review(promotion({})),
            id="Promotion to ProjectConfig path",
        ),
        pytest.param(
            PROMOTION_MUTATE_PATH, review(project_config([])), id="ProjectConfig to mutating path"
        ),
        pytest.param(
            PROMOTION_VALIDATE_PATH, review(promotion({}), version="v1beta9"), id="unknown version"
        ),
    ],
)
async def test_wrong_kind_or_version_is_denied_with_400(path: str, body: Any) -> None:
    code, answer = await _post(path, body)
    assert code == 200
    assert answer["response"]["uid"] == body["request"]["uid"]
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 400


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not JSON"),
        pytest.param(b"\xc3\x28", id="invalid UTF-8"),
        pytest.param(b"[" * 5000, id="deeply nested"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', id="no req"),
    ],
)
async def test_bodies_without_uid_get_400_and_a_review(body: bytes) -> None:
    code, answer = await _post(PROMOTION_MUTATE_PATH, body)
    assert code == 400
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["allowed"] is False
    assert answer["response"]["uid"] == ""
    assert answer["response"]["status"]["code"] == 400


async def test_oversized_body_is_denied_413_with_its_uid() -> None:
    """The uid is read from the body's start: a denial the API server can match, HTTP 200."""
    body = review(promotion({"big": "x" * 4096}), uid="big-1")
    code, answer = await _post(PROMOTION_VALIDATE_PATH, body, max_body_bytes=2048)
    assert code == 200
    assert answer["response"]["uid"] == "big-1"
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 413
    assert "2048" in answer["response"]["status"]["message"]


async def test_oversized_body_without_a_uid_at_its_start_is_413() -> None:
    body = b'{"padding":"' + b"x" * 4096 + b'"}'
    code, answer = await _post(PROMOTION_VALIDATE_PATH, body, max_body_bytes=2048)
    assert code == 413
    assert answer["response"]["uid"] == ""
    assert answer["response"]["allowed"] is False


async def test_wrong_content_type_is_415() -> None:
    c, _ = client()
    async with c:
        r = await c.post(
            PROMOTION_VALIDATE_PATH, content=b"{}", headers={"content-type": "text/plain"}
        )
    assert r.status_code == 415
    assert r.json()["response"]["allowed"] is False


async def test_get_on_a_webhook_path_is_405() -> None:
    c, _ = client()
    async with c:
        r = await c.get(PROMOTION_VALIDATE_PATH)
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    status = r.json()["response"]["status"]
    assert (status["code"], status["reason"]) == (405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        pytest.param(
            PROJECT_CONFIG_VALIDATE_PATH, review(promotion({})), "wrong-kind", id="wrong kind"
        ),
        pytest.param(
            PROMOTION_VALIDATE_PATH,
            review(promotion({}), version="v1beta9"),
            "wrong-version",
            id="wrong version",
        ),
        pytest.param(
            PROMOTION_MUTATE_PATH,
            review({**promotion({}), "metadata": {"name": "p1", "annotations": "x"}}),
            "malformed-object",
            id="malformed object",
        ),
    ],
)
async def test_a_review_that_cannot_be_decided_is_counted_as_an_error(
    path: str, body: Any, error: str
) -> None:
    c, obs = client()
    async with c:
        r = await c.post(
            path, content=orjson.dumps(body), headers={"content-type": "application/json"}
        )
    assert r.json()["response"]["status"]["code"] == 400
    webhook = {
        PROJECT_CONFIG_VALIDATE_PATH: "projectconfig-validate",
        PROMOTION_MUTATE_PATH: "promotion-mutate",
        PROMOTION_VALIDATE_PATH: "promotion-validate",
    }[path]
    errors = obs.registry.get_sample_value(
        "krw_admission_errors_total", {"webhook": webhook, "error": error}
    )
    assert errors == 1.0
    requests = {
        decision: obs.registry.get_sample_value(
            "krw_admission_requests_total",
            {"webhook": webhook, "operation": "CREATE", "decision": decision},
        )
        for decision in ("denied", "error")
    }
    assert requests == {"denied": None, "error": 1.0}


async def test_health_readiness_and_metrics() -> None:
    c, _ = client()
    async with c:
        assert (await c.get("/healthz")).status_code == 200
        await c.post(
            PROMOTION_MUTATE_PATH,
            content=orjson.dumps(review(promotion({KEY: "true"}))),
            headers=JSON,
        )
        metrics = (await c.get("/metrics")).text
    requests = 'decision="patched",operation="CREATE",webhook="promotion-mutate"} 1.0'
    assert "krw_admission_requests_total{" + requests in metrics
    assert (
        'krw_rollback_guard_actions_total{action="stripped",webhook="promotion-mutate"} 1.0'
        in metrics
    )
    assert "krw_admission_duration_seconds_bucket" in metrics
    assert 'le="0.0005"' in metrics
    assert "krw_build_info{" in metrics


def _endpoint(decide: Any, obs: Observability, **kwargs: Any) -> AdmissionEndpoint:
    spec = WebhookSpec(
        "test-hook", "/x", GroupVersionKind("kargo.akuity.io", "v1alpha1", "Promotion"), decide
    )
    return AdmissionEndpoint(spec, max_body_bytes=1 << 20, recorder=obs, **kwargs)


async def _post_to(endpoint: AdmissionEndpoint, body: Any, query: str = "") -> httpx.Response:
    transport = httpx.ASGITransport(app=endpoint)
    async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as c:
        return await c.post("/x" + query, content=orjson.dumps(body), headers=JSON)


async def test_an_exception_is_answered_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_: AdmissionRequest) -> Any:
        raise RuntimeError("boom")

    obs = Observability()
    r = await _post_to(_endpoint(broken, obs), review(promotion({}), uid="u-7"))
    assert r.status_code == 200
    response = r.json()["response"]
    assert response == {
        "uid": "u-7",
        "allowed": False,
        "status": response["status"],
    }
    assert response["status"]["code"] == 500
    assert "boom" not in response["status"]["message"]
    assert any("boom" in (rec.exc_text or "") or rec.exc_info for rec in caplog.records)
    errors = obs.registry.get_sample_value(
        "krw_admission_errors_total", {"webhook": "test-hook", "error": "internal-error"}
    )
    assert errors == 1.0


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        pytest.param(b"timeout=10s", 10.0, id="ten seconds"),
        pytest.param(b"timeout=1s", 1.0, id="one second"),
        pytest.param(b"a=b&timeout=1500ms", 1.5, id="milliseconds after another parameter"),
        pytest.param(b"timeout=1m", 30.0, id="a minute is clamped to 30s"),
        pytest.param(b"timeout=0s", 1.0, id="zero is raised to the API server's floor of 1s"),
        pytest.param(b"timeout=10ms", 1.0, id="ten milliseconds are raised to 1s"),
        pytest.param(b"", DEFAULT_TIMEOUT_SECONDS, id="absent: the API server's default"),
        pytest.param(b"timeout=soon", DEFAULT_TIMEOUT_SECONDS, id="malformed: the default"),
        pytest.param(b"xtimeout=1s", DEFAULT_TIMEOUT_SECONDS, id="another parameter's suffix"),
    ],
)
def test_request_timeout(query: bytes, seconds: float) -> None:
    assert request_timeout(query) == seconds


def test_answer_budget_leaves_a_margin() -> None:
    assert answer_budget(1.0) == pytest.approx(0.9)
    assert answer_budget(10.0) == pytest.approx(9.5)
    assert answer_budget(0.01) == 0.0


async def test_a_decision_past_the_deadline_is_denied_before_the_api_server_gives_up() -> None:
    release = threading.Event()

    def slow(_: AdmissionRequest) -> Any:
        release.wait(5)  # stands in for a decision that takes too long
        raise AssertionError("the slow decision's result must be discarded")

    obs = Observability()
    endpoint = _endpoint(slow, obs, offload_bytes=0)
    started = time.monotonic()
    try:
        r = await _post_to(endpoint, review(promotion({}), uid="slow-1"), "?timeout=1s")
    finally:
        release.set()
    elapsed = time.monotonic() - started
    response = r.json()["response"]
    assert response["uid"] == "slow-1"
    assert response["allowed"] is False
    assert response["status"]["code"] == 504
    assert "refused rather than admitted" in response["status"]["message"]
    assert 0.85 <= elapsed < 1.0
    counted = obs.registry.get_sample_value(
        "krw_admission_errors_total", {"webhook": "test-hook", "error": "deadline-exceeded"}
    )
    assert counted == 1.0


async def test_an_offloaded_decision_in_time_is_answered_normally() -> None:
    obs = Observability()
    endpoint = _endpoint(lambda _: allowed("fine"), obs, offload_bytes=0)
    r = await _post_to(endpoint, review(promotion({}), uid="ok-1"), "?timeout=5s")
    assert r.json()["response"] == {"uid": "ok-1", "allowed": True}


async def test_a_body_in_parts_that_stalls_is_cut_off_at_the_deadline() -> None:
    """The first part came, the rest never does: 408 before the API server's timeout."""
    obs = Observability()
    endpoint = _endpoint(lambda _: allowed("fine"), obs)
    sent: list[dict[str, Any]] = []
    stall = asyncio.Event()
    parts = [{"type": "http.request", "body": b'{"apiVersion":', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop(0)
        await stall.wait()  # never set: the client stopped sending
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "query_string": b"timeout=1s",
        "headers": [(b"content-type", b"application/json")],
    }
    started = time.monotonic()
    await endpoint(scope, receive, send)
    elapsed = time.monotonic() - started
    assert sent[0]["status"] == 408
    assert orjson.loads(sent[1]["body"])["response"]["allowed"] is False
    assert 0.85 <= elapsed < 1.0


@pytest.mark.parametrize(
    "pair", [tuple, list], ids=["header pairs as tuples", "header pairs as lists"]
)
async def test_header_pairs_of_any_sequence_type_are_read(pair: Any) -> None:
    """The ASGI spec allows any [name, value] pairs; the compiled endpoint must not insist on
    tuples (uvicorn's) or treat other pairs as an internal error."""
    body = orjson.dumps(review(promotion({}), uid="u-pairs"))
    headers = [
        pair(h)
        for h in [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "query_string": b"",
        "headers": headers,
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await _endpoint(lambda _: allowed("ok"), Observability())(scope, receive, send)
    assert sent[0]["status"] == 200
    assert orjson.loads(sent[1]["body"])["response"] == {"uid": "u-pairs", "allowed": True}
