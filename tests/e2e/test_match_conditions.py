"""matchConditions as kube-apiserver evaluates them (tests/e2e/match_conditions.py): the CEL the
chart's conditions are written in, and the matcher's outcome through the stand-in."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apiserver import ApiServer, Unsupported
from tests.e2e.cluster import NAMESPACES, routes_resolver
from tests.e2e.fake_configuration import DNS_NAME, Switch, configuration
from tests.e2e.fake_webhook import Reply, Review, answer, json_patch, serving
from tests.e2e.match_conditions import admission_request, compile_conditions, match
from tests.e2e.objects import ALICE, ANNOTATION, CONTROLLER
from tests.support.reviews import promotion

pytestmark = pytest.mark.integration

HOOK = "fake.example.com"
ERRORS = "expression-errors"


def _request(operation: str, username: str) -> dict[str, Any]:
    gvk = {"group": "kargo.akuity.io", "version": "v1alpha1", "kind": "Promotion"}
    gvr = {"group": "kargo.akuity.io", "version": "v1alpha1", "resource": "promotions"}
    return admission_request(
        kind=gvk,
        resource=gvr,
        request_kind=gvk,
        request_resource=gvr,
        name="p",
        namespace="proj",
        operation=operation,
        username=username,
        user_uid="",
        groups=("system:authenticated",),
        dry_run=False,
        options={"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    )


def evaluate(
    expression: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    username: str = ALICE.username,
) -> bool | str:
    """True, False, or ERRORS when the one condition fails to evaluate."""
    conditions = compile_conditions([{"name": "c", "expression": expression}], "test")
    obj = promotion(name="p", annotations=new)
    old_obj = promotion(name="p", annotations=old) if old is not None else None
    operation = "UPDATE" if old is not None else "CREATE"
    outcome = match(
        conditions,
        obj=obj,
        old=old_obj,
        request=_request(operation, username),
        failure_policy="Fail",
    )
    return ERRORS if outcome.error else outcome.matches


MARKED = {ANNOTATION: "true"}
HAS_MARK = f"has(object.metadata.annotations) && '{ANNOTATION}' in object.metadata.annotations"
CHANGED = (
    "(has(object.metadata.annotations) ? object.metadata.annotations : {}) != "
    "(has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {})"
)

# (expression, new annotations, old annotations (None: CREATE), username, cel-go's result)
CEL_CASES = [
    ("request.operation == 'CREATE'", None, None, ALICE.username, True),
    ("request.operation == 'CREATE'", None, {}, ALICE.username, False),
    ("has(object.metadata.annotations)", None, None, ALICE.username, False),
    ("has(object.metadata.annotations)", MARKED, None, ALICE.username, True),
    (f"'{ANNOTATION}' in object.metadata.annotations", None, None, ALICE.username, ERRORS),
    (HAS_MARK, None, None, ALICE.username, False),
    (HAS_MARK, MARKED, None, ALICE.username, True),
    (f"object.metadata.annotations['{ANNOTATION}'] == 'true'", MARKED, None, "a", True),
    (f"object.metadata.annotations['{ANNOTATION}'] == 'true'", {"a": "b"}, None, "a", ERRORS),
    ("oldObject == null", None, None, ALICE.username, True),
    ("oldObject == null", None, {}, ALICE.username, False),
    ("has(oldObject.metadata)", None, None, ALICE.username, ERRORS),  # has() on null
    (CHANGED, MARKED, {ANNOTATION: "false"}, ALICE.username, True),
    (CHANGED, MARKED, MARKED, ALICE.username, False),
    (CHANGED, None, {}, ALICE.username, False),
    ("object.spec != oldObject.spec", None, {}, ALICE.username, False),
    ("request.operation == 'CREATE' || object.spec != oldObject.spec", None, None, "a", True),
    ("object.spec != oldObject.spec || request.operation == 'CREATE'", None, None, "a", True),
    ("object.spec != oldObject.spec", None, None, ALICE.username, ERRORS),  # null.spec
    (f"request.userInfo.username in ['{CONTROLLER.username}']", None, None, "alice", False),
    (
        f"!(request.userInfo.username in ['{CONTROLLER.username}', 'x'])",
        None,
        None,
        CONTROLLER.username,
        False,
    ),
    (
        "request.name == 'p' && request.namespace == 'proj' && request.uid == ''",
        None,
        None,
        "a",
        True,
    ),
    ("request.resource.resource == 'promotions'", None, None, ALICE.username, True),
]


@pytest.mark.parametrize(
    ("expression", "new", "old", "username", "expected"),
    [pytest.param(*case, id=f"{i}: {case[0][:60]}") for i, case in enumerate(CEL_CASES)],
)
def test_cel_as_cel_go(
    expression: str,
    new: dict[str, str] | None,
    old: dict[str, str] | None,
    username: str,
    expected: bool | str,
) -> None:
    assert evaluate(expression, new=new, old=old, username=username) == expected


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("object.?spec.orValue({}) == {}", id="optional field selection"),
        pytest.param("object.metadata.annotations[?'a'].hasValue()", id="optional index"),
        pytest.param("authorizer.group('').resource('x').check('get').allowed()", id="authorizer"),
        pytest.param("1 +", id="syntax error"),
    ],
)
def test_what_the_engine_cannot_compile_is_unsupported(expression: str) -> None:
    with pytest.raises(Unsupported):
        compile_conditions([{"name": "c", "expression": expression}], "test")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("object.metadata.name.lowerAscii() == 'p'", id="a Kubernetes CEL library"),
        pytest.param("'a string'", id="not a bool"),
    ],
)
def test_what_the_engine_cannot_evaluate_is_unsupported(expression: str) -> None:
    with pytest.raises(Unsupported):
        evaluate(expression)


# --- through the stand-in -------------------------------------------------------------------

NO_SUCH_KEY = "object.metadata.annotations['x'] == 'y'"  # the object has no annotations


@dataclass
class Fakes:
    first: Switch
    second: Switch
    ca_bundle: bytes
    routes: dict[tuple[str, int], tuple[str, int]]
    names: Iterator[int]

    def api(self, *configurations: dict[str, Any]) -> ApiServer:
        return ApiServer(
            list(configurations), resolve=routes_resolver(self.routes), namespaces=NAMESPACES
        )


@pytest.fixture(scope="module")
def fakes(fake_certs: Path) -> Iterator[Fakes]:
    first, second = Switch(), Switch()
    with (
        serving(fake_certs, DNS_NAME, first) as (endpoint, port),
        serving(fake_certs, DNS_NAME, second) as (_, second_port),
    ):
        routes = {
            (DNS_NAME, 443): ("127.0.0.1", port),
            (DNS_NAME, 8443): ("127.0.0.1", second_port),
        }
        yield Fakes(first, second, endpoint.ca_bundle, routes, itertools.count())


def _create(fakes: Fakes, conditions: list[str], failure_policy: str) -> tuple[Any, Switch]:
    fakes.first.seen.clear()
    fakes.first.behaviour = answer
    named = [{"name": f"c{i}", "expression": e} for i, e in enumerate(conditions)]
    hook = configuration(fakes.ca_bundle, failure_policy=failure_policy, match_conditions=named)
    api = fakes.api(hook)
    try:
        return api.create(promotion(name=f"p{next(fakes.names)}"), user=ALICE), fakes.first
    finally:
        api.transport.close()


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
def test_any_false_skips_even_when_another_errs(fakes: Fakes, failure_policy: str) -> None:
    result, switch = _create(fakes, [NO_SUCH_KEY, "request.operation == 'UPDATE'"], failure_policy)
    assert result.code == 201, result.status
    assert switch.seen == []


def test_an_error_under_fail_is_forbidden(fakes: Fakes) -> None:
    result, switch = _create(fakes, ["true", NO_SUCH_KEY], "Fail")
    assert result.code == 403
    assert result.status is not None
    assert result.status["reason"] == "Forbidden"
    name = result.status["details"]["name"]
    assert result.message == (
        f'promotions.kargo.akuity.io "{name}" is forbidden: '
        f"expression '{NO_SUCH_KEY}' resulted in error: no such key: annotations"
    )
    assert switch.seen == []


def test_several_errors_are_joined(fakes: Fakes) -> None:
    result, _ = _create(fakes, [NO_SUCH_KEY, "has(oldObject.spec)"], "Fail")
    assert result.code == 403
    assert "is forbidden: [expression '" in result.message
    assert "], " not in result.message.split("[", 1)[0]


def test_an_error_under_ignore_skips_the_webhook(fakes: Fakes) -> None:
    result, switch = _create(fakes, [NO_SUCH_KEY], "Ignore")
    assert result.code == 201, result.status
    assert result.audit == {}  # no call, so no failed-open annotation
    assert switch.seen == []


def test_all_true_calls_the_webhook(fakes: Fakes) -> None:
    result, switch = _create(fakes, ["request.operation == 'CREATE'", "oldObject == null"], "Fail")
    assert result.code == 201, result.status
    assert len(switch.seen) == 1


def _labelling(value: str) -> Any:
    def behaviour(review: Review) -> Reply:
        if "labels" in review["request"]["object"]["metadata"]:
            return answer(review)
        ops = [{"op": "add", "path": "/metadata/labels", "value": {"step": value}}]
        return answer(review, **json_patch(ops))

    return behaviour


@pytest.mark.parametrize(("label", "reinvoked"), [("stop", False), ("go", True)])
def test_conditions_are_evaluated_again_in_the_reinvocation_round(
    fakes: Fakes, label: str, reinvoked: bool
) -> None:
    """a-first may be re-invoked after b-second labels the object; its condition, evaluated
    again on the labelled object, decides whether it is."""
    fakes.first.seen.clear()
    fakes.first.behaviour = answer
    fakes.second.behaviour = _labelling(label)
    condition = {
        "name": "not-stopped",
        "expression": "!has(object.metadata.labels) || object.metadata.labels['step'] != 'stop'",
    }
    api = fakes.api(
        configuration(
            fakes.ca_bundle,
            name="a-first.example.com",
            reinvocation="IfNeeded",
            match_conditions=[condition],
        ),
        configuration(fakes.ca_bundle, name="b-second.example.com", port=8443),
    )
    try:
        result = api.create(promotion(name=f"p{next(fakes.names)}"), user=ALICE)
    finally:
        api.transport.close()
    assert result.code == 201, result.status
    assert [(c.webhook, c.round) for c in result.calls] == [
        ("a-first.example.com", 0),
        ("b-second.example.com", 0),
        *([("a-first.example.com", 1)] if reinvoked else []),
    ]


def test_a_validating_webhooks_condition_error_rejects_before_any_is_called(fakes: Fakes) -> None:
    """The validating dispatcher matches every webhook first; an error stops it there."""
    fakes.first.seen.clear()
    fakes.first.behaviour = answer
    failing = [{"name": "no-such-key", "expression": NO_SUCH_KEY}]
    api = fakes.api(
        configuration(fakes.ca_bundle, name="a-first.example.com", mutating=False),
        configuration(
            fakes.ca_bundle,
            name="b-second.example.com",
            mutating=False,
            port=8443,
            match_conditions=failing,
        ),
    )
    try:
        result = api.create(promotion(name=f"p{next(fakes.names)}"), user=ALICE)
    finally:
        api.transport.close()
    assert result.code == 403
    assert result.calls == []
    assert fakes.first.seen == []
