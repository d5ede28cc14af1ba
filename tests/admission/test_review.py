"""Decoding AdmissionReviews: everything malformed is a ReviewError, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from app.admission.review import ReviewError, decode_review
from tests.support.reviews import promotion, review


def _body(mutate: Any) -> bytes:
    r = review(promotion({}), uid="u-1")
    mutate(r)
    return orjson.dumps(r)


def test_decodes_the_envelope() -> None:
    req = decode_review(orjson.dumps(review(promotion({}), uid="u-1", username="bob")))
    assert req.uid == "u-1"
    assert req.operation == "CREATE"
    assert req.kind.kind == "Promotion"
    assert req.username == "bob"
    assert req.namespace == "proj"
    assert req.dry_run is False


def test_tolerates_unknown_envelope_fields() -> None:
    def add_fields(r: dict[str, Any]) -> None:
        r["futureField"] = {"x": 1}
        r["request"]["somethingNew"] = [1, 2]

    assert decode_review(_body(add_fields)).uid == "u-1"


def test_v1beta1_is_accepted() -> None:
    body = orjson.dumps(review(promotion({}), api_version="admission.k8s.io/v1beta1"))
    assert decode_review(body).api_version == "admission.k8s.io/v1beta1"


NO_UID = [
    pytest.param(b"", "empty", id="empty body"),
    pytest.param(b"{", "not valid JSON", id="truncated JSON"),
    pytest.param(b"\xff\xfe{}", "not valid JSON", id="not UTF-8"),
    pytest.param(b"[" * 2000 + b"]" * 2000, "not valid JSON", id="nested 2000 levels deep"),
    pytest.param(b"[]", "JSON object", id="a list, not an object"),
    pytest.param(b'"x"', "JSON object", id="a string"),
    pytest.param(b"{}", "apiVersion", id="no apiVersion"),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview"}',
        "apiVersion",
        id="unknown review version",
    ),
    pytest.param(b'{"apiVersion":["admission.k8s.io/v1"]}', "apiVersion", id="apiVersion a list"),
    pytest.param(b'{"apiVersion":{"v":1}}', "apiVersion", id="apiVersion an object"),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}', "kind", id="not an AdmissionReview"
    ),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v1","kind":["AdmissionReview"]}',
        "kind",
        id="kind a list",
    ),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
        "no request",
        id="no request",
    ),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}',
        "uid",
        id="no uid",
    ),
    pytest.param(
        b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":7}}',
        "uid",
        id="uid is a number",
    ),
]


@pytest.mark.parametrize(("body", "message"), NO_UID)
def test_errors_without_a_uid(body: bytes, message: str) -> None:
    with pytest.raises(ReviewError) as info:
        decode_review(body)
    assert info.value.uid is None
    assert message in info.value.message


def _set(path: list[str], value: Any) -> Any:
    def mutate(r: dict[str, Any]) -> None:
        target = r
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


_DELETE = object()

WITH_UID = [
    pytest.param(_set(["request", "operation"], "PATCH"), "operation", id="unknown operation"),
    pytest.param(_set(["request", "operation"], None), "operation", id="null operation"),
    pytest.param(_set(["request", "operation"], ["CREATE"]), "operation", id="operation a list"),
    pytest.param(_set(["request", "operation"], {"op": 1}), "operation", id="operation an object"),
    pytest.param(_set(["request", "dryRun"], 1), "dryRun", id="dryRun is 1, not true"),
    pytest.param(_set(["request", "namespace"], 7), "namespace", id="namespace is a number"),
    pytest.param(_set(["request", "kind"], "Promotion"), "kind", id="kind is a string"),
    pytest.param(_set(["request", "kind", "kind"], 3), "kind", id="kind name is a number"),
    pytest.param(_set(["request", "object"], None), "object is required", id="CREATE, no object"),
    pytest.param(_set(["request", "object"], [1]), "object must be", id="object is a list"),
    pytest.param(_set(["request", "operation"], "UPDATE"), "oldObject", id="UPDATE, no oldObject"),
    pytest.param(_set(["request", "oldObject"], "x"), "oldObject", id="oldObject is a string"),
    pytest.param(_set(["request", "userInfo"], []), "userInfo", id="userInfo is a list"),
    pytest.param(
        _set(["request", "userInfo", "username"], 5), "username", id="username is a number"
    ),
    pytest.param(_set(["request", "dryRun"], "yes"), "dryRun", id="dryRun is a string"),
    pytest.param(_set(["request", "name"], {"a": 1}), "name", id="name is an object"),
]


@pytest.mark.parametrize(("mutate", "message"), WITH_UID)
def test_errors_with_a_uid_echo_it(mutate: Any, message: str) -> None:
    with pytest.raises(ReviewError) as info:
        decode_review(_body(mutate))
    assert info.value.uid == "u-1"
    assert info.value.api_version == "admission.k8s.io/v1"
    assert message in info.value.message


def test_missing_user_info_is_an_anonymous_other_user() -> None:
    req = decode_review(_body(_set(["request", "userInfo"], _DELETE)))
    assert req.username == ""
