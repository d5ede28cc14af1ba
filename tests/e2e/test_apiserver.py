"""The stand-in itself against a webhook that misbehaves: which failures go through
failurePolicy, which reject whatever it says, and that the timeout is enforced."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apiserver import ApiServer, GroupVersionResource, LabelSelector, Rule
from tests.e2e.cluster import NAMESPACES, routes_resolver
from tests.e2e.fake_configuration import configuration
from tests.e2e.fake_webhook import Reply, answer, json_patch, serving
from tests.e2e.objects import ALICE
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

DNS_NAME = "fake-webhook.example.svc"
HOOK = "misbehaving.example.com"


def _configuration(
    ca_bundle: bytes, failure_policy: str, *, host: str = DNS_NAME
) -> dict[str, Any]:
    return configuration(
        ca_bundle,
        name=HOOK,
        configuration_name="misbehaving",
        failure_policy=failure_policy,
        host=host,
        port=None,
        operations=("CREATE",),
        timeout_seconds=1,
    )


@dataclass(frozen=True)
class Case:
    behaviour: Callable[[dict[str, Any]], Reply]
    message: str  # in the 500's message
    call_failure: bool = True  # False: rejected whatever the failure policy


def _with_response(**changes: Any) -> Callable[[dict[str, Any]], Reply]:
    def behaviour(review: dict[str, Any]) -> Reply:
        body = json.loads(answer(review).body)
        for key, value in changes.items():
            if key in ("apiVersion", "kind"):
                body[key] = value
            else:
                body["response"][key] = value
        return Reply(json.dumps(body).encode())

    return behaviour


CASES = [
    pytest.param(Case(_with_response(uid="other"), "expected response.uid="), id="wrong uid"),
    pytest.param(
        Case(_with_response(apiVersion="admission.k8s.io/v1beta1"), "expected webhook response"),
        id="wrong apiVersion",
    ),
    pytest.param(Case(_with_response(kind="Status"), "Kind=AdmissionReview"), id="wrong kind"),
    pytest.param(
        Case(
            lambda r: Reply(b"{}", status=500),
            # client-go's NewGenericServerResponse: a JSON body that is no Status says nothing.
            'an error on the server ("unknown") has prevented the request from succeeding',
        ),
        id="HTTP 500",
    ),
    pytest.param(
        Case(lambda r: Reply(b"<html>"), "couldn't get version/kind; json parse error"),
        id="not JSON",
    ),
    pytest.param(
        Case(_with_response(patch=base64.b64encode(b"[]").decode()), "not response.patchType"),
        id="patch without patchType",
    ),
    pytest.param(Case(lambda r: Reply(b"", delay=2.5), "context deadline exceeded"), id="timeout"),
    pytest.param(
        Case(
            lambda r: answer(r, **json_patch([{"op": "remove", "path": "/metadata/nope"}])),
            "Internal error occurred",
            call_failure=False,
        ),
        id="patch that does not apply",
    ),
    pytest.param(
        Case(
            lambda r: answer(
                r,
                **json_patch([{"op": "add", "path": "/metadata/annotations", "value": {"a": 1}}]),
            ),
            "ObjectMeta.metadata.annotations",
            call_failure=False,
        ),
        id="patch leaving annotations that are not strings",
    ),
]


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
@pytest.mark.parametrize("case", CASES)
def test_misbehaving_webhook(fake_certs: Path, case: Case, failure_policy: str) -> None:
    with serving(fake_certs, DNS_NAME, case.behaviour) as (endpoint, port):
        api = ApiServer(
            [_configuration(endpoint.ca_bundle, failure_policy)],
            resolve=routes_resolver({(DNS_NAME, 443): ("127.0.0.1", port)}),
            namespaces=NAMESPACES,
        )
        started = time.monotonic()
        result = api.create(promotion(name="p"), user=ALICE)
        elapsed = time.monotonic() - started
        api.transport.close()

    assert elapsed < 2.0, "the call outlived timeoutSeconds"
    if failure_policy == "Ignore" and case.call_failure:
        assert result.code == 201, result.status
        assert result.audit == {
            "failed-open.mutation.webhook.admission.k8s.io/round_0_index_0": HOOK
        }
        return
    assert result.code == 500, result.status
    assert case.message in result.message
    if case.call_failure:
        assert f'failed calling webhook "{HOOK}"' in result.message


def test_the_certificate_must_carry_the_name_called(fake_certs: Path) -> None:
    """A webhook called by a name its certificate does not carry fails TLS verification."""
    other = "other-webhook.example.svc"
    with serving(fake_certs, DNS_NAME, answer) as (endpoint, port):
        api = ApiServer(
            [_configuration(endpoint.ca_bundle, "Fail", host=other)],
            resolve=routes_resolver({(other, 443): ("127.0.0.1", port)}),
            namespaces=NAMESPACES,
        )
        result = api.create(promotion(name="p"), user=ALICE)
    assert result.code == 500
    # Go's crypto/x509 `HostnameError`, quoted by net/http in its `Post "<url>": <error>`.
    assert result.message.endswith(
        f'Post "https://{other}:443/mutate?timeout=1s": tls: failed to verify certificate: '
        f"x509: certificate is valid for localhost, {DNS_NAME}, not {other}"
    ), result.message


@pytest.mark.parametrize(
    ("rule", "resource", "subresource", "operation", "namespace", "matches"),
    [
        (Rule(("*",), ("*",), ("*",), ("*",), "*"), ("g", "v", "r"), "", "CREATE", "ns", True),
        (Rule(("*",), ("*",), ("*",), ("*",), "*"), ("g", "v", "r"), "status", "CREATE", "", False),
        (
            Rule(("*",), ("*",), ("*/*",), ("*",), "*"),
            ("g", "v", "r"),
            "status",
            "CREATE",
            "",
            True,
        ),
        (
            Rule(("g",), ("v",), ("r/status",), ("UPDATE",), "*"),
            ("g", "v", "r"),
            "status",
            "UPDATE",
            "",
            True,
        ),
        (
            Rule(("g",), ("v",), ("r",), ("CREATE",), "Cluster"),
            ("g", "v", "r"),
            "",
            "CREATE",
            "ns",
            False,
        ),
        (
            Rule(("g",), ("v",), ("r",), ("CREATE",), "Namespaced"),
            ("g", "v", "r"),
            "",
            "CREATE",
            "",
            False,
        ),
        (
            Rule(("g",), ("v",), ("r",), ("CREATE",), "*"),
            ("g", "v", "r"),
            "",
            "DELETE",
            "ns",
            False,
        ),
        (Rule(("g",), ("v1",), ("r",), ("*",), "*"), ("g", "v2", "r"), "", "CREATE", "ns", False),
    ],
)
def test_rule_matching(
    rule: Rule,
    resource: tuple[str, str, str],
    subresource: str,
    operation: str,
    namespace: str,
    matches: bool,
) -> None:
    gvr = GroupVersionResource(*resource)
    assert rule.matches(gvr, subresource, operation, namespace) is matches


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
    ],
)
def test_label_selector(selector: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    assert LabelSelector.parse(selector).matches(labels) is matches
