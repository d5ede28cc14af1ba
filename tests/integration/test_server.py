"""The real `kargo-rollback-webhook serve` process over TLS, with certificates from `certs`."""

from __future__ import annotations

import base64
import copy
import json
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from tests.support.cli import CLI
from tests.support.pki import generate_certs
from tests.support.reviews import KEY, project_config, promotion, review
from tests.support.server import ServerProcess
from tests.support.tls import client_context

pytestmark = pytest.mark.integration
JSON = {"content-type": "application/json"}


def test_mutating_path_strips_over_https(server: ServerProcess) -> None:
    body = review(promotion({KEY: "true"}), uid="it-1")
    with server.client() as c:
        r = c.post(PROMOTION_MUTATE_PATH + "?timeout=5s", content=orjson.dumps(body), headers=JSON)
    assert r.status_code == 200
    response = r.json()["response"]
    assert response["uid"] == "it-1"
    assert orjson.loads(base64.b64decode(response["patch"])) == [
        {"op": "remove", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}
    ]


def test_validating_paths_deny(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.post(
            PROMOTION_VALIDATE_PATH,
            content=orjson.dumps(review(promotion({KEY: "true"}))),
            headers=JSON,
        )
        assert r.json()["response"]["status"]["code"] == 403
        bad = project_config([{"stageSelector": {"name": "glob:["}}])
        r = c.post(PROJECT_CONFIG_VALIDATE_PATH, content=orjson.dumps(review(bad)), headers=JSON)
    status = r.json()["response"]["status"]
    assert status["code"] == 422
    assert status["details"]["causes"][0]["field"] == "spec.promotionPolicies[0].stageSelector.name"


def test_window_fields_the_webhook_does_not_own_pass_untouched(server: ServerProcess) -> None:
    # Kargo #7012's `description` and `disabled`, and a key no Kargo has: admitted as they are,
    # with no patch and no warning, while the window's stageSelector is still validated.
    unowned = {"description": "quarterly freeze", "disabled": True, "futureKey": {"a": [1, None]}}
    good = project_config(
        spec={
            "promotionWindows": [
                {"name": "freeze", "kind": "Deny", "stageSelector": {"name": "regex:^prod$"}}
                | unowned
            ]
        }
    )
    bad = copy.deepcopy(good)
    bad["spec"]["promotionWindows"][0]["stageSelector"]["name"] = "regex:(prod"
    with server.client() as c:
        ok = c.post(PROJECT_CONFIG_VALIDATE_PATH, content=orjson.dumps(review(good)), headers=JSON)
        denied = c.post(
            PROJECT_CONFIG_VALIDATE_PATH, content=orjson.dumps(review(bad)), headers=JSON
        )
    response = ok.json()["response"]
    assert response["allowed"] is True
    assert "warnings" not in response
    assert "patch" not in response
    status = denied.json()["response"]["status"]
    assert [(c["field"], c["reason"]) for c in status["details"]["causes"]] == [
        ("spec.promotionWindows[0].stageSelector.name", "FieldValueInvalid")
    ]
    assert "missing closing )" in status["details"]["causes"][0]["message"]


def test_many_requests_on_one_keep_alive_connection(server: ServerProcess) -> None:
    with server.client() as c:
        for i in range(50):
            body = review(promotion({}), uid=f"ka-{i}")
            r = c.post(PROMOTION_MUTATE_PATH, content=orjson.dumps(body), headers=JSON)
            assert r.json()["response"]["uid"] == f"ka-{i}"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"", 400, id="empty"),
        pytest.param(b"{not json", 400, id="garbage"),
        pytest.param(b"[" * 100_000, 400, id="deep nesting"),
    ],
)
def test_bad_input_gets_4xx_review(server: ServerProcess, body: bytes, status: int) -> None:
    with server.client() as c:
        r = c.post(PROMOTION_MUTATE_PATH, content=body, headers=JSON)
    assert r.status_code == status
    assert r.json()["response"]["allowed"] is False


def test_oversized_body_is_413(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.post(PROMOTION_MUTATE_PATH, content=b" " * (8 * 1024 * 1024), headers=JSON)
    assert r.status_code == 413
    assert r.json()["response"]["allowed"] is False


def test_health_and_metrics(server: ServerProcess) -> None:
    with server.client() as c:
        assert c.get("/healthz").text == "ok"
        assert c.get("/readyz").status_code == 200
        metrics = c.get("/metrics").text
    assert "krw_admission_requests_total" in metrics
    assert "krw_build_info" in metrics


def test_decision_log_is_one_json_line_without_the_object(server: ServerProcess) -> None:
    secret = "do-not-log-this-value"
    body = review(promotion({KEY: "true", "note": secret}), uid="log-1", username="carol")
    with server.client() as c:
        c.post(PROMOTION_MUTATE_PATH, content=orjson.dumps(body), headers=JSON)
    # Decision lines are written in batches, at most 50 ms apart.
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while not lines and time.monotonic() < deadline:
        lines = [json.loads(x) for x in server.logs().splitlines() if '"log-1"' in x]
        time.sleep(0.02)
    assert len(lines) == 1
    entry = lines[0]
    assert entry["msg"] == "admission decision"
    assert entry["uid"] == "log-1"
    assert entry["username"] == "carol"
    assert entry["decision"] == "patched"
    assert entry["reason"] == "stripped"
    assert entry["namespace"] == "proj"
    assert isinstance(entry["duration_ms"], float)
    assert secret not in server.logs()


def test_plain_http_is_refused(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = sock.recv(100)
    assert not data.startswith(b"HTTP/1.1 200")


def test_certificate_has_the_local_names(server: ServerProcess) -> None:
    ctx = client_context(server.ca_file)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def _serve(cert: Path, key: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`serve` expected to refuse its configuration and exit before listening."""
    return subprocess.run(
        [CLI, "serve", "--tls-cert-file", str(cert), "--tls-key-file", str(key), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("args", "setting"),
    [
        pytest.param(
            ["--rollback-annotation-mode", "warn"], "--rollback-annotation-mode", id="unknown mode"
        ),
        pytest.param(["--controller-username", ""], "--controller-username", id="empty username"),
    ],
)
def test_misconfiguration_exits_2_naming_the_setting(
    certs: Path, args: list[str], setting: str
) -> None:
    result = _serve(certs / "tls.crt", certs / "tls.key", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert setting in result.stderr


def test_key_not_matching_certificate_exits_2(certs: Path, tmp_path: Path) -> None:
    other = generate_certs(tmp_path / "other")
    result = _serve(certs / "tls.crt", other / "tls.key")
    assert result.returncode == 2
    assert "--tls-key-file" in result.stderr
    assert "does not match" in result.stderr
