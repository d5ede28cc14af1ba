"""The rollback-annotation guard, decided directly (no HTTP): mutate and validate."""

from __future__ import annotations

import base64
import copy
from typing import Any

import jsonpatch
import orjson
import pytest

from app.admission.responses import encode_response
from app.admission.review import decode_review
from app.kargo.identity import ControllerIdentity
from app.webhooks.promotion import GUARD_ACTIONS, mutate_promotion, validate_promotion
from tests.support.reviews import CONTROLLER, KEY, promotion, review
from tests.webhooks.annotation_cases import ANNOTATION_CASES, AnnotationCase

IS_CONTROLLER = ControllerIdentity.of([CONTROLLER])


def _request(case: AnnotationCase) -> Any:
    old = promotion(case.old) if case.operation == "UPDATE" else None
    body = review(promotion(case.new), operation=case.operation, old=old, username=case.username)
    return decode_review(orjson.dumps(body))


def _apply(obj: dict[str, Any], patch: list[Any] | None) -> dict[str, Any]:
    if not patch:
        return obj
    return jsonpatch.apply_patch(copy.deepcopy(obj), patch)  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_mutating_answer_strip_mode(case: AnnotationCase) -> None:
    req = _request(case)
    decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    assert decision.allowed
    assert req.obj is not None
    result = _apply(req.obj, decision.patch)
    assert result["metadata"].get("annotations") == case.mutated
    action = GUARD_ACTIONS.get(decision.why)
    assert action == (case.guard_action if case.guard_action in ("stripped", "restored") else None)
    if decision.patch:
        assert len(decision.patch) == 1
        assert decision.warnings
        assert all(len(w) < 120 for w in decision.warnings)
        assert "only the Kargo controller" in decision.warnings[0]
        assert decision.audit["rollback-annotation"].startswith(action or "")
    # Everything but the annotations is left as it was.
    assert {k: v for k, v in result.items() if k != "metadata"} == {
        k: v for k, v in req.obj.items() if k != "metadata"
    }


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_mutating_answer_deny_mode_never_patches(case: AnnotationCase) -> None:
    decision = mutate_promotion(_request(case), is_controller=IS_CONTROLLER, mode="deny")
    assert decision.allowed
    assert decision.patch is None


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_validating_answer(case: AnnotationCase) -> None:
    req = _request(case)
    decision = validate_promotion(req, is_controller=IS_CONTROLLER)
    assert decision.allowed is case.validate_allows
    if not case.validate_allows:
        assert decision.status is not None
        assert decision.status["code"] == 403
        assert decision.status["reason"] == "Forbidden"
        cause = decision.status["details"]["causes"][0]
        assert cause["reason"] == "FieldValueForbidden"
        assert cause["field"] == "metadata.annotations[kargo.akuity.io/rollback]"
        assert "only the Kargo controller" in decision.status["message"]
        assert GUARD_ACTIONS.get(decision.why) == "denied"
        assert decision.audit["rollback-annotation"].startswith("denied")


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_mutated_object_passes_validation(case: AnnotationCase) -> None:
    """After the mutating patch, the validating webhook admits the object (the chain agrees)."""
    req = _request(case)
    decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    assert req.obj is not None
    mutated = _apply(req.obj, decision.patch)
    old = promotion(case.old) if case.operation == "UPDATE" else None
    body = review(mutated, operation=case.operation, old=old, username=case.username)
    again = validate_promotion(decode_review(orjson.dumps(body)), is_controller=IS_CONTROLLER)
    assert again.allowed


@pytest.mark.parametrize(
    ("operation", "verb"),
    [
        pytest.param("CREATE", "set", id="create says set"),
        pytest.param("UPDATE-change", "change", id="update of the value says change"),
        pytest.param("UPDATE-remove", "remove", id="update dropping it says remove"),
    ],
)
def test_denial_message_names_user_and_action(operation: str, verb: str) -> None:
    if operation == "CREATE":
        body = review(promotion({KEY: "true"}), username="bob")
    elif operation == "UPDATE-change":
        body = review(
            promotion({KEY: "yes"}),
            operation="UPDATE",
            old=promotion({KEY: "true"}),
            username="bob",
        )
    else:
        body = review(
            promotion({}), operation="UPDATE", old=promotion({KEY: "true"}), username="bob"
        )
    decision = validate_promotion(decode_review(orjson.dumps(body)), is_controller=IS_CONTROLLER)
    assert decision.status is not None
    assert decision.status["message"].startswith('promotions.kargo.akuity.io "p1" is forbidden: ')
    assert (
        f'user "bob" may not {verb} annotation kargo.akuity.io/rollback'
        in (decision.status["message"])
    )


def test_patch_pointer_escapes_slash_and_is_base64_json() -> None:
    body = review(promotion({KEY: "true"}))
    req = decode_review(orjson.dumps(body))
    decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    wire = orjson.loads(encode_response(req.api_version, req.uid, decision))
    assert wire["response"]["patchType"] == "JSONPatch"
    ops = orjson.loads(base64.b64decode(wire["response"]["patch"]))
    assert ops == [{"op": "remove", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}]


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"metadata": None, "spec": {}}, id="null metadata"),
        pytest.param({"spec": {}}, id="no metadata at all"),
        pytest.param({"metadata": {"annotations": None}}, id="null annotations"),
    ],
)
def test_restore_into_any_metadata_shape_applies(obj: dict[str, Any]) -> None:
    body = review(obj, operation="UPDATE", old=promotion({KEY: "true"}), kind="Promotion")
    req = decode_review(orjson.dumps(body))
    decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    result = _apply(obj, decision.patch)
    assert result["metadata"]["annotations"] == {KEY: "true"}


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"metadata": "x"}, id="metadata is a string"),
        pytest.param({"metadata": {"annotations": ["a"]}}, id="annotations is a list"),
    ],
)
@pytest.mark.parametrize("policy", ["mutate", "validate"])
def test_malformed_metadata_is_denied_not_crashed(obj: dict[str, Any], policy: str) -> None:
    req = decode_review(orjson.dumps(review(obj, kind="Promotion")))
    if policy == "mutate":
        decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    else:
        decision = validate_promotion(req, is_controller=IS_CONTROLLER)
    assert not decision.allowed
    assert decision.status is not None
    assert decision.status["code"] == 400


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_pass_without_patch(operation: str) -> None:
    body = review(None, operation=operation, old=promotion({KEY: "true"}))
    req = decode_review(orjson.dumps(body))
    for decision in (
        mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip"),
        validate_promotion(req, is_controller=IS_CONTROLLER),
    ):
        assert decision.allowed
        assert decision.patch is None


@pytest.mark.parametrize(
    ("value", "warns"),
    [
        pytest.param("true", False, id="canonical true: no warning"),
        pytest.param("True", True, id="capitalised True: warned, Kargo ignores it"),
        pytest.param("yes", True, id="yes: warned"),
    ],
)
def test_controller_non_canonical_value_is_warned(value: str, warns: bool) -> None:
    req = decode_review(orjson.dumps(review(promotion({KEY: value}), username=CONTROLLER)))
    decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
    assert decision.allowed
    assert decision.patch is None
    assert bool(decision.warnings) is warns
    if warns:
        assert 'only the exact value "true"' in decision.warnings[0]
        assert len(decision.warnings[0]) < 120


def test_dry_run_gets_the_same_decision() -> None:
    for dry in (False, True):
        req = decode_review(orjson.dumps(review(promotion({KEY: "true"}), dry_run=dry)))
        decision = mutate_promotion(req, is_controller=IS_CONTROLLER, mode="strip")
        assert decision.patch == [
            {"op": "remove", "path": "/metadata/annotations/kargo.akuity.io~1rollback"}
        ]


def test_identity_rejects_empty_configuration() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ControllerIdentity.of([])
    with pytest.raises(ValueError, match="non-empty"):
        ControllerIdentity.of([""])
