"""Malformed answers from a webhook, and what kube-apiserver makes of each
(tests/e2e/verify.py: typed decoding, `VerifyAdmissionResponse`, the mutating dispatcher's patch
decoding), under `failurePolicy: Fail` and `Ignore`."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apiserver import ApiServer, Result
from tests.e2e.cluster import NAMESPACES, routes_resolver
from tests.e2e.fake_configuration import DNS_NAME, Switch, configuration
from tests.e2e.fake_webhook import Reply, Review, serving
from tests.e2e.objects import ALICE
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

HOOK = "fake.example.com"


class Fake:
    """The fake webhook and one API server per (mutating, failurePolicy), kept for the module:
    a stand-in starts a client process, so each test re-uses one."""

    def __init__(self, switch: Switch, ca_bundle: bytes, port: int) -> None:
        self.switch, self.ca_bundle, self.port = switch, ca_bundle, port
        self.servers: dict[tuple[bool, str], ApiServer] = {}
        self.names = itertools.count()

    def create(
        self, behaviour: Callable[[Review], Reply], *, failure_policy: str, mutating: bool = True
    ) -> Result:
        self.switch.behaviour = behaviour
        api = self.servers.get((mutating, failure_policy))
        if api is None:
            hooks = [
                configuration(self.ca_bundle, mutating=mutating, failure_policy=failure_policy)
            ]
            api = ApiServer(
                hooks,
                resolve=routes_resolver({(DNS_NAME, 443): ("127.0.0.1", self.port)}),
                namespaces=NAMESPACES,
            )
            self.servers[(mutating, failure_policy)] = api
        return api.create(promotion(name=f"p{next(self.names)}"), user=ALICE)


@pytest.fixture(scope="module")
def fake(fake_certs: Path) -> Iterator[Fake]:
    switch = Switch()
    with serving(fake_certs, DNS_NAME, switch) as (endpoint, port):
        fake = Fake(switch, endpoint.ca_bundle, port)
        try:
            yield fake
        finally:
            for api in fake.servers.values():
                api.transport.close()


def raw(response: str, *, envelope: str = "") -> Callable[[Review], Reply]:
    """An answer written as JSON text, so that it can carry what Python would not produce.

    `response` is the text inside `"response": {...}` after the correct uid; `envelope` adds
    members beside it.
    """

    def behaviour(review: Review) -> Reply:
        uid = json.dumps(review["request"]["uid"])
        extra = f", {envelope}" if envelope else ""
        head = '{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"'
        return Reply(f'{head}{extra}, "response": {{"uid": {uid}, {response}}}}}'.encode())

    return behaviour


def b64(data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    return base64.b64encode(text.encode()).decode()


ADD_LABEL = [{"op": "add", "path": "/metadata/labels", "value": {"fake": "yes"}}]


@dataclass(frozen=True)
class Case:
    behaviour: Callable[[Review], Reply]
    message: str  # in the message of the call error (500 under Fail)
    mutating: bool = True


CALL_ERRORS = [
    pytest.param(
        Case(
            raw('"allowed": "false"'),
            "json: cannot unmarshal string into Go struct field AdmissionResponse.response."
            "allowed of type bool",
        ),
        id="allowed as a string",
    ),
    pytest.param(
        Case(raw('"allowed": 1'), "cannot unmarshal number into Go struct field"),
        id="allowed as a number",
    ),
    pytest.param(
        Case(raw('"allowed": true, "warnings": [1]'), "response.warnings of type string"),
        id="a warning that is a number",
    ),
    pytest.param(
        Case(raw('"allowed": true, "warnings": "careful"'), "of type []string"),
        id="warnings as one string",
    ),
    pytest.param(
        Case(
            raw('"allowed": true, "auditAnnotations": {"a": 1}'),
            "Go struct field AdmissionResponse.response.auditAnnotations of type string",
        ),
        id="an audit annotation that is a number",
    ),
    pytest.param(
        Case(raw('"allowed": false, "status": {"code": "403"}'), "response.status.code of type"),
        id="status code as a string",
    ),
    pytest.param(
        Case(raw('"allowed": false, "status": {"code": 403.5}'), "number 403.5"),
        id="status code with a fraction",
    ),
    pytest.param(
        Case(raw('"allowed": false, "status": {"code": 4294967296}'), "of type int32"),
        id="status code past int32",
    ),
    pytest.param(
        Case(raw('"allowed": false, "status": {"message": ["no"]}'), "response.status.message"),
        id="status message as a list",
    ),
    pytest.param(
        Case(raw('"allowed": false, "status": "no"'), "response.status of type v1.Status"),
        id="status as a string",
    ),
    pytest.param(
        Case(raw(f'"allowed": true, "patch": "{b64(ADD_LABEL)}", "patchType": 1'), "patchType"),
        id="patchType as a number",
    ),
    pytest.param(
        Case(raw('"allowed": true, "patch": "not base64!"'), "illegal base64 data at input byte"),
        id="patch that is not base64",
    ),
    pytest.param(
        Case(
            raw('"allowed": true, "patchType": "JSONPatch"'),
            "received invalid webhook response: webhook returned response.patchType but not "
            "response.patch",
        ),
        id="patchType without patch",
    ),
    pytest.param(
        Case(
            raw(f'"allowed": true, "patch": "{b64(ADD_LABEL)}", "patchType": ""'),
            'webhook returned invalid response.patchType of ""',
        ),
        id="empty patchType",
    ),
    pytest.param(
        Case(
            raw(f'"allowed": true, "patch": "{b64("[{")}", "patchType": "JSONPatch"'),
            "received undecodable patch in webhook response",
        ),
        id="patch that is not JSON",
    ),
    pytest.param(
        Case(
            raw(f'"allowed": true, "patch": "{b64({"op": "add"})}", "patchType": "JSONPatch"'),
            "received undecodable patch in webhook response",
        ),
        id="patch that is an object",
    ),
    pytest.param(
        Case(
            raw(f'"allowed": true, "patch": "{b64(ADD_LABEL)}", "patchType": "MergePatch"'),
            'unsupported patch type "MergePatch"',
        ),
        id="patch of another type",
    ),
    pytest.param(
        Case(
            raw('"allowed": true, "patchType": "JSONPatch"'),
            "validating webhook may not return response.patchType",
            mutating=False,
        ),
        id="patchType from a validating webhook",
    ),
    pytest.param(
        Case(
            raw(f'"allowed": true, "patch": "{b64(ADD_LABEL)}", "patchType": "JSONPatch"'),
            "validating webhook may not return response.patch",
            mutating=False,
        ),
        id="patch from a validating webhook",
    ),
    pytest.param(
        Case(raw('"allowed": true', envelope='"request": "x"'), "Go struct field"),
        id="an echoed request that is not an object",
    ),
    pytest.param(
        Case(lambda r: Reply(b"[]"), "couldn't get version/kind; json parse error"),
        id="a JSON array",
    ),
    pytest.param(
        Case(
            lambda r: Reply(b'{"KIND": 1}'),
            "couldn't get version/kind; json parse error: json: cannot unmarshal number into "
            "Go struct field .kind of type string",
        ),
        id="kind as a number, its key in capitals",
    ),
    pytest.param(
        Case(lambda r: Reply(b"{}"), "webhook response was absent"), id="no response member"
    ),
    pytest.param(
        Case(lambda r: Reply(b'{"response": NaN}'), "json parse error"), id="NaN is not JSON"
    ),
]


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
@pytest.mark.parametrize("case", CALL_ERRORS)
def test_a_malformed_answer_is_a_call_error(fake: Fake, case: Case, failure_policy: str) -> None:
    """Each goes through failurePolicy: Fail rejects with 500, Ignore admits and records it."""
    result = fake.create(case.behaviour, failure_policy=failure_policy, mutating=case.mutating)
    kind = "mutation" if case.mutating else "validating"
    if failure_policy == "Ignore":
        assert result.code == 201, result.status
        assert result.audit == {
            f"failed-open.{kind}.webhook.admission.k8s.io/round_0_index_0": HOOK
        }
        assert "labels" not in (result.object or {})["metadata"]
        return
    assert result.code == 500, result.status
    assert result.status is not None
    assert result.status["reason"] == "InternalError"
    assert f'Internal error occurred: failed calling webhook "{HOOK}": ' in result.message
    assert case.message in result.message


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
def test_keys_match_case_sensitively(fake: Fake, failure_policy: str) -> None:
    """`Allowed` is not `allowed` (sigs.k8s.io/json decodes case-sensitively): the answer
    decodes, allowed is false, and that is a denial under either policy, not a call error."""
    result = fake.create(raw('"Allowed": true'), failure_policy=failure_policy)
    assert result.code == 400, result.status
    assert result.message == f'admission webhook "{HOOK}" denied the request without explanation'


@pytest.mark.parametrize(
    ("response", "labels"),
    [
        pytest.param('"allowed": true, "extra": {"any": [1, "x"]}', None, id="unknown fields"),
        pytest.param('"allowed": true, "warnings": null, "status": null', None, id="nulls"),
        pytest.param(
            f'"allowed": true, "patch": "{b64([])}", "patchType": "JSONPatch"',
            None,
            id="an empty patch",
        ),
        pytest.param(
            f'"allowed": true, "patch": "{b64(ADD_LABEL)}", "patchType": "JSONPatch", '
            '"allowed": false, "allowed": true',
            {"fake": "yes"},
            id="a repeated key: the last wins",
        ),
        pytest.param(
            f'"allowed": true, "patch": "{b64(ADD_LABEL)[:40]}\\r\\n{b64(ADD_LABEL)[40:]}", '
            '"patchType": "JSONPatch"',
            {"fake": "yes"},
            id="base64 broken over lines",
        ),
    ],
)
def test_answers_kube_apiserver_accepts(
    fake: Fake, response: str, labels: dict[str, str] | None
) -> None:
    result = fake.create(raw(response), failure_policy="Fail")
    assert result.code == 201, result.status
    assert result.audit == (
        {
            "mutation.webhook.admission.k8s.io/round_0_index_0": (
                '{"configuration":"fake","webhook":"fake.example.com","mutated":true}'
            )
        }
        if labels
        else {}
    )
    assert (result.object or {})["metadata"].get("labels") == labels


def test_a_denial_keeps_only_the_status_fields_go_knows(fake: Fake) -> None:
    result = fake.create(
        raw(
            '"allowed": false, "status": {"code": 409, "message": "taken", "reason": "Conflict",'
            ' "colour": "red", "details": {"causes": [{"field": "spec", "tone": 1}]}}'
        ),
        failure_policy="Fail",
    )
    assert result.code == 409
    assert result.status == {
        "metadata": {},
        "status": "Failure",
        "message": f'admission webhook "{HOOK}" denied the request: taken',
        "reason": "Conflict",
        "details": {"causes": [{"field": "spec"}]},
        "code": 409,
    }


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
def test_a_patch_that_does_not_apply_rejects_whatever_the_policy(
    fake: Fake, failure_policy: str
) -> None:
    """Decoded but not applicable: `apierrors.NewInternalError`, no call error."""
    ops = [{"op": "replace", "path": "/metadata/nothing/here", "value": 1}]
    behaviour = raw(f'"allowed": true, "patch": "{b64(ops)}", "patchType": "JSONPatch"')
    result = fake.create(behaviour, failure_policy=failure_policy)
    assert result.code == 500
    assert "failed calling webhook" not in result.message
    assert result.audit == {}
