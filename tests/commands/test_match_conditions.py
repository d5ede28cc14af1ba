"""Skipping is safe: the chart's matchConditions are true for every write the webhooks act on.

The conditions come from `app.commands.match_conditions` (the chart renders the same text:
tests/chart/test_match_conditions.py). They are evaluated here with common-expression-language
(module `cel`, the engine of tests/commands/test_policy.py, chosen there for cel-go's semantics:
`has()` on a null operand is an error, `null` compares with a map), binding what the API server
binds (k8s.io/apiserver `pkg/admission/plugin/webhook/matchconditions/matcher.go`): `object`,
`oldObject` (null on CREATE) and `request`. Every evaluation must succeed: an error would hand
the request to `failurePolicy`, so an expression that is not total fails these tests.

For each request the webhook's own answer is computed in-process (`mutate_promotion`,
`validate_promotion`, `decide_project_config`), and two implications must hold:
- the webhook patches or denies ⇒ the conditions are all true (it is called);
- a condition is false (the API server skips the webhook) ⇒ the webhook would have allowed
  with no patch.

The requests are the shared tables (the annotation cases, the ProjectConfig ratcheting cases)
and seeded random ones, in modes strip and deny and with custom usernames.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cel
import orjson
import pytest

from app.admission.review import AdmissionRequest, decode_review
from app.admission.validating import ValidatingWebhook
from app.commands.match_conditions import (
    MatchCondition,
    project_config_match_conditions,
    promotion_match_conditions,
)
from app.kargo.identity import ControllerIdentity
from app.kargo.rollback import GuardMode
from app.webhooks.projectconfig import ProjectConfigRules
from app.webhooks.promotion import mutate_promotion, validate_promotion
from tests.support.reviews import CONTROLLER, KEY, project_config, promotion, review
from tests.webhooks.annotation_cases import ANNOTATION_CASES, AnnotationCase
from tests.webhooks.projectconfig_cases import CASES as PROJECT_CONFIG_CASES
from tests.webhooks.projectconfig_cases import Case as ProjectConfigCase

# A second controller and one whose name needs escaping in a CEL literal (a quote, a backslash,
# a line break): the conditions must compare them byte for byte, as the webhook does.
ODD_CONTROLLER = "it's a \\ odd\ncontroller"
EAST = "system:serviceaccount:kargo:kargo-controller-east"
USERNAME_SETS: Sequence[tuple[str, ...]] = ((CONTROLLER,), (EAST, ODD_CONTROLLER))
MODES: tuple[GuardMode, ...] = ("strip", "deny")
GENERATED = 1500  # random requests per username set
decide_project_config = ValidatingWebhook(ProjectConfigRules(schema="any")).decide


class Conditions:
    """A webhook's matchConditions, compiled once; `call` is the API server's verdict."""

    def __init__(self, conditions: Sequence[MatchCondition]) -> None:
        self.programs = [(c["name"], cel.compile(c["expression"])) for c in conditions]

    def call(self, req: dict[str, Any]) -> bool:
        """True when every condition is true. Any evaluation error fails the test."""
        activation = {"object": req["object"], "oldObject": req["oldObject"], "request": req}
        results = []
        for name, program in self.programs:
            try:
                result = program.execute(activation)
            except Exception as exc:  # any error is the finding
                pytest.fail(f"condition {name} failed to evaluate: {exc!r} on {req!r}")
            assert isinstance(result, bool), (name, result)
            results.append(result)
        return all(results)


@dataclass(frozen=True)
class Answer:
    acts: bool  # patches or denies
    untouched: bool  # allowed, no patch


def _decoded(body: dict[str, Any]) -> AdmissionRequest:
    return decode_review(orjson.dumps(body))


def promotion_answer(body: dict[str, Any], usernames: Sequence[str], mode: GuardMode) -> Answer:
    """Both Promotion webhooks' answers to one request, as the mode registers them."""
    is_controller = ControllerIdentity.of(usernames)
    answers = [validate_promotion(_decoded(body), is_controller=is_controller)]
    if mode == "strip":
        answers.append(mutate_promotion(_decoded(body), is_controller=is_controller, mode=mode))
    acts = any(not a.allowed or a.patch for a in answers)
    untouched = all(a.allowed and not a.patch for a in answers)
    return Answer(acts, untouched)


def _promotion_review(case: AnnotationCase) -> dict[str, Any]:
    old = promotion(case.old) if case.operation == "UPDATE" else None
    return review(promotion(case.new), operation=case.operation, old=old, username=case.username)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_annotation_cases_reach_the_webhook_whenever_it_acts(
    case: AnnotationCase, mode: GuardMode
) -> None:
    body = _promotion_review(case)
    called = Conditions(promotion_match_conditions([CONTROLLER])).call(body["request"])
    answer = promotion_answer(body, [CONTROLLER], mode)
    assert called or answer.untouched
    if answer.acts:
        assert called
    # The table's own verdict: a request the validating webhook refuses is always sent.
    if not case.validate_allows:
        assert called


# --- generated Promotion requests ---------------------------------------------------------------

_USERS = (
    "alice",
    "",
    "system:serviceaccount:kargo:kargo-api",
    "system:serviceaccount:other:kargo-controller",
    CONTROLLER + "\n",
    CONTROLLER + "-evil",
    "system:masters",
)
_VALUES: Sequence[Any] = ("true", "false", "", "TRUE", " true", None)
_OTHER_ANNOTATIONS: Sequence[dict[str, Any]] = (
    {},
    {"kargo.akuity.io/abort": "x"},
    {"kargo.akuity.io/refresh": "2026-12-06T10:00:00Z"},
    {"kargo.akuity.io/Rollback": "true"},
)


def _annotations(rng: random.Random) -> dict[str, Any] | str | None:
    """Absent ('absent'), a null map (None), or a map with or without the key."""
    shape = rng.random()
    if shape < 0.15:
        return "absent"
    if shape < 0.25:
        return None
    annotations = dict(rng.choice(_OTHER_ANNOTATIONS))
    if rng.random() < 0.5:
        annotations[KEY] = rng.choice(_VALUES)
    return annotations


def _promotion_object(rng: random.Random) -> dict[str, Any]:
    annotations = _annotations(rng)
    obj = promotion(None if annotations in ("absent", None) else annotations)  # type: ignore[arg-type]
    if annotations is None:
        obj["metadata"]["annotations"] = None
    if rng.random() < 0.3:
        obj["metadata"]["labels"] = {"team": rng.choice(("a", "b"))}
    if rng.random() < 0.3:
        obj["metadata"]["finalizers"] = ["kargo.akuity.io/finalizer"][: rng.randint(0, 1)]
    if rng.random() < 0.1:
        obj["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z"
    return obj


def _generated_promotion(rng: random.Random, usernames: Sequence[str]) -> dict[str, Any]:
    operation = rng.choice(("CREATE", "UPDATE", "UPDATE"))
    user = rng.choice((*usernames, *_USERS))
    new = _promotion_object(rng)
    old = None
    if operation == "UPDATE":
        # Often an edit of the old object, so that "unchanged" is common, as in a cluster.
        old = _promotion_object(rng) if rng.random() < 0.5 else copy.deepcopy(new)
        if rng.random() < 0.3:
            new["metadata"].setdefault("labels", {})["edited"] = "yes"
    return review(new, operation=operation, old=old, username=user)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("usernames", USERNAME_SETS, ids=("default", "custom"))
def test_generated_promotion_writes_reach_the_webhook_whenever_it_acts(
    usernames: tuple[str, ...], mode: GuardMode
) -> None:
    rng = random.Random(f"promotion-{mode}-{len(usernames)}")
    conditions = Conditions(promotion_match_conditions(usernames))
    skipped = acted = 0
    for _ in range(GENERATED):
        body = _generated_promotion(rng, usernames)
        called = conditions.call(body["request"])
        answer = promotion_answer(body, usernames, mode)
        if answer.acts:
            acted += 1
            assert called, body
        if not called:
            skipped += 1
            assert answer.untouched, body
    # Not a condition that is always true or always false: most writes skip the webhook, and
    # every write it acts on (a fair share of this mix) still reaches it.
    assert skipped > GENERATED // 2
    assert acted > GENERATED // 20


# --- ProjectConfig ------------------------------------------------------------------------------

PROJECT_CONFIG_CONDITIONS = Conditions(project_config_match_conditions())


def project_config_answer(body: dict[str, Any]) -> Answer:
    decision = decide_project_config(_decoded(body))
    return Answer(not decision.allowed, decision.allowed and not decision.patch)


@pytest.mark.parametrize("param", PROJECT_CONFIG_CASES)
def test_project_config_cases_reach_the_webhook_whenever_it_denies(param: Any) -> None:
    case: ProjectConfigCase = param
    operation = "CREATE" if case.old is None else "UPDATE"
    body = review(case.new, operation=operation, old=case.old)
    called = PROJECT_CONFIG_CONDITIONS.call(body["request"])
    answer = project_config_answer(body)
    if operation == "CREATE":
        assert called  # every CREATE: the name rule and the whole spec
    if answer.acts:
        assert called
    if not called:
        assert answer.untouched
        assert case.old is not None
        assert case.new.get("spec") == case.old.get("spec")


_SPECS: Sequence[dict[str, Any]] = (
    {"promotionPolicies": []},
    {"promotionPolicies": [{"stage": "prod", "autoPromotionEnabled": True}]},
    {"promotionPolicies": [{"stageSelector": {"matchLabels": {"tier": "front end"}}}]},
    {"promotionPolicies": [{"stageSelector": {"name": "regex:("}}]},
    {"promotionPolicies": [{"stage": "dev"}, {"stage": "dev"}]},
    {"promotionPolicies": [{"stage": "qa", "autoRollback": {"onPromotion": ["Nope"]}}]},
)


def _project_config_object(rng: random.Random) -> dict[str, Any]:
    shape = rng.random()
    obj = project_config(spec=copy.deepcopy(rng.choice(_SPECS)))
    if shape < 0.05:
        del obj["spec"]
    elif shape < 0.1:
        obj["spec"] = None
    if rng.random() < 0.3:
        obj["metadata"]["labels"] = {"team": rng.choice(("a", "b"))}
    if rng.random() < 0.3:
        obj["metadata"]["annotations"] = {"kargo.akuity.io/refresh": str(rng.randint(0, 3))}
    if rng.random() < 0.3:
        obj["metadata"]["finalizers"] = ["kargo.akuity.io/finalizer"][: rng.randint(0, 1)]
    if rng.random() < 0.2:
        obj["metadata"]["deletionTimestamp"] = "2026-12-06T10:00:00Z"
    return obj


def test_generated_project_config_writes_reach_the_webhook_whenever_it_denies() -> None:
    rng = random.Random("projectconfig")
    skipped = denied = 0
    for _ in range(GENERATED):
        operation = rng.choice(("CREATE", "UPDATE", "UPDATE"))
        new = _project_config_object(rng)
        old = None
        if operation == "UPDATE":
            old = copy.deepcopy(new) if rng.random() < 0.6 else _project_config_object(rng)
            # Metadata-only edits of the same spec: labels, refresh, finalizers, deletion.
            new["metadata"]["labels"] = {"edited": str(rng.randint(0, 1))}
        body = review(new, operation=operation, old=old)
        called = PROJECT_CONFIG_CONDITIONS.call(body["request"])
        answer = project_config_answer(body)
        if answer.acts:
            denied += 1
            assert called, body
        if not called:
            skipped += 1
            assert answer.untouched, body
    assert skipped > GENERATED // 4
    assert denied > GENERATED // 10


# --- totality on what the API server can send ---------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({}, id="no annotations key"),
        pytest.param({"annotations": None}, id="annotations null"),
        pytest.param({"annotations": {}}, id="annotations empty"),
        pytest.param({"annotations": {KEY: None}}, id="value null"),
    ],
)
@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_conditions_never_error(metadata: dict[str, Any], operation: str) -> None:
    obj = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Promotion", "metadata": metadata}
    old = copy.deepcopy(obj) if operation == "UPDATE" else None
    olds: list[dict[str, Any] | None] = [old, {"metadata": {}}, {"metadata": {"annotations": None}}]
    for other_old in olds:
        body = review(obj, operation=operation, old=other_old if operation == "UPDATE" else None)
        for conditions in (
            Conditions(promotion_match_conditions([CONTROLLER])),
            PROJECT_CONFIG_CONDITIONS,
        ):
            conditions.call(body["request"])  # fails the test on any evaluation error


@pytest.mark.parametrize(
    ("old", "new", "called"),
    [
        pytest.param(None, {}, True, id="CREATE without spec"),
        pytest.param({}, {}, False, id="spec absent in both"),
        pytest.param({}, {"spec": {}}, True, id="spec added"),
        pytest.param({"spec": {}}, {}, True, id="spec removed"),
        pytest.param({"spec": {"a": [1]}}, {"spec": {"a": [1]}}, False, id="same spec"),
        pytest.param({"spec": {"a": [1, 2]}}, {"spec": {"a": [2, 1]}}, True, id="reordered"),
        pytest.param({"spec": {"a": True}}, {"spec": {"a": "true"}}, True, id="type change"),
    ],
)
def test_project_config_condition_on_spec(
    old: dict[str, Any] | None, new: dict[str, Any], called: bool
) -> None:
    meta = {"metadata": {"name": "proj", "namespace": "proj"}}
    operation = "CREATE" if old is None else "UPDATE"
    body = review(
        {**meta, **new}, operation=operation, old=None if old is None else {**meta, **old}
    )
    assert PROJECT_CONFIG_CONDITIONS.call(body["request"]) is called


@pytest.mark.parametrize(
    ("username", "called"),
    [
        pytest.param(CONTROLLER, False, id="the controller"),
        pytest.param(ODD_CONTROLLER, False, id="a controller whose name needs escaping"),
        pytest.param(ODD_CONTROLLER + " ", True, id="one byte more is another user"),
        pytest.param("it's a \\ odd", True, id="a prefix is another user"),
        pytest.param(CONTROLLER.upper(), True, id="case differs: another user"),
    ],
)
def test_usernames_are_compared_byte_for_byte(username: str, called: bool) -> None:
    conditions = Conditions(promotion_match_conditions([CONTROLLER, ODD_CONTROLLER]))
    body = review(promotion({KEY: "true"}), username=username)
    assert conditions.call(body["request"]) is called
