"""The ValidatingAdmissionPolicy: its shape, its schema, and its CEL agreeing with the webhook.

The CEL is evaluated with common-expression-language (module `cel`, Python bindings of the Rust
CEL interpreter) over the same table of annotation cases as the webhook's own tests
(tests/webhooks/annotation_cases.py), plus a few of its own, and every decision must equal both
the table's `validate_allows` and what `validate_promotion` answers.

Why this implementation: like cel-go, the one in the API server, it makes `has()` on a null
operand an error (cel-python answers false, which would hide a missing `request.operation ==
'UPDATE'` guard before `oldObject`, null on CREATE) and compares `null` with a map.

The API server evaluates variables lazily; here they are evaluated eagerly, in order. That is
the same result because every variable is total (never an evaluation error), and evaluating
them eagerly over the whole table is what proves it: an error would raise here.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cel
import kubernetes_validate  # type: ignore[import-untyped]
import orjson
import pytest
import yaml

from app import cli
from app.admission.review import decode_review
from app.commands.match_conditions import cel_string
from app.commands.policy import DEFAULT_POLICY_NAME, build_policy, render_policy
from app.k8s.field import go_quote
from app.kargo.constants import DEFAULT_CONTROLLER_USERNAME
from app.kargo.identity import ControllerIdentity
from app.webhooks.promotion import validate_promotion
from tests.support.reviews import CONTROLLER, KEY, promotion, review
from tests.webhooks.annotation_cases import ANNOTATION_CASES, AnnotationCase

SCRIPT = Path(sys.executable).parent / "kargo-rollback-webhook"
OLDEST_SUPPORTED_KUBERNETES = "1.30.0"  # admissionregistration.k8s.io/v1 policies are GA here


# --- evaluating the policy ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    message: str  # what the API server shows: messageExpression, or message when unusable


class PolicyEvaluator:
    """The policy's CEL, compiled once, evaluated as the API server evaluates it."""

    def __init__(self, policy: dict[str, Any]) -> None:
        spec = policy["spec"]
        self.conditions = [cel.compile(c["expression"]) for c in spec.get("matchConditions", ())]
        self.variables = [(v["name"], cel.compile(v["expression"])) for v in spec["variables"]]
        (validation,) = spec["validations"]
        self.expression = cel.compile(validation["expression"])
        self.message_expression = cel.compile(validation["messageExpression"])
        self.message: str = validation["message"]

    def evaluate(
        self,
        *,
        operation: str,
        username: str,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> Verdict:
        # What the API server binds (oldObject is null on CREATE); an evaluation error raises.
        activation: dict[str, Any] = {
            "object": obj,
            "oldObject": old,
            "request": {"operation": operation, "userInfo": {"username": username}},
        }
        # matchConditions first: any false skips the policy (the write is admitted by it). All
        # are evaluated, so that one that is not total raises here.
        matched = [condition.execute(activation) for condition in self.conditions]
        if not all(matched):
            return Verdict(True, "")
        variables: dict[str, Any] = {}
        activation["variables"] = variables
        for name, program in self.variables:
            variables[name] = program.execute(activation)
        result = self.expression.execute(activation)
        assert isinstance(result, bool)
        message = self.message_expression.execute(activation)
        assert isinstance(message, str)
        # The API server falls back to `message` when messageExpression yields "" or a line
        # break (ValidatingAdmissionPolicy API reference).
        if not message.strip() or "\n" in message or "\r" in message:
            message = self.message
        return Verdict(result, message)


def policy_for(*usernames: str) -> dict[str, Any]:
    return build_policy(list(usernames), DEFAULT_POLICY_NAME)[0]


DEFAULT_EVALUATOR = PolicyEvaluator(policy_for(CONTROLLER))
IS_CONTROLLER = ControllerIdentity.of([CONTROLLER])


def webhook_detail(case: AnnotationCase) -> tuple[bool, str]:
    """validate_promotion's answer for the case, and the detail of its 403."""
    old = promotion(case.old) if case.operation == "UPDATE" else None
    body = review(promotion(case.new), operation=case.operation, old=old, username=case.username)
    decision = validate_promotion(decode_review(orjson.dumps(body)), is_controller=IS_CONTROLLER)
    if decision.allowed:
        return True, ""
    assert decision.status is not None
    return False, decision.status["message"].split(" is forbidden: ", 1)[1]


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_policy_decides_as_the_webhook(case: AnnotationCase) -> None:
    verdict = DEFAULT_EVALUATOR.evaluate(
        operation=case.operation,
        username=case.username,
        obj=promotion(case.new),
        old=promotion(case.old) if case.operation == "UPDATE" else None,
    )
    webhook_allows, detail = webhook_detail(case)
    assert verdict.allowed is case.validate_allows
    assert verdict.allowed is webhook_allows
    if not verdict.allowed:
        if go_quote(case.username) == f'"{case.username}"':
            # Same words as the webhook's 403, verb included (set, change, remove).
            assert verdict.message == detail
        else:
            # A username with a line break: the API server shows the static message.
            assert verdict.message == DEFAULT_EVALUATOR.message


# Cases beyond the shared table: several controller names, names that need escaping in a CEL
# literal, empty and odd values, and the oldObject-only edges.
@dataclass(frozen=True)
class ExtraCase:
    usernames: tuple[str, ...]
    operation: str
    username: str
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    allowed: bool


ODD = "it's a \\ name"  # a quote and a backslash: must not end or bend the CEL literal
EXTRA_CASES = [
    pytest.param(
        ExtraCase(
            (CONTROLLER, f"{CONTROLLER}-2"), "CREATE", f"{CONTROLLER}-2", {KEY: "true"}, None, True
        ),
        id="second configured controller may set it",
    ),
    pytest.param(
        ExtraCase(
            (CONTROLLER, f"{CONTROLLER}-2"), "CREATE", f"{CONTROLLER}-3", {KEY: "true"}, None, False
        ),
        id="an unconfigured sibling may not",
    ),
    pytest.param(
        ExtraCase((ODD,), "CREATE", ODD, {KEY: "true"}, None, True),
        id="a configured name with a quote and a backslash matches exactly",
    ),
    pytest.param(
        ExtraCase((ODD,), "CREATE", "it's a  name", {KEY: "true"}, None, False),
        id="the same name without its backslash does not",
    ),
    pytest.param(
        ExtraCase((CONTROLLER,), "UPDATE", "alice", {KEY: ""}, {KEY: "true"}, False),
        id="changing the value to empty is a change",
    ),
    pytest.param(
        ExtraCase((CONTROLLER,), "UPDATE", "alice", {KEY: ""}, {KEY: ""}, True),
        id="an empty value kept as it was is no change",
    ),
    pytest.param(
        ExtraCase((CONTROLLER,), "UPDATE", "alice", None, None, True),
        id="no annotations before or after",
    ),
    pytest.param(
        ExtraCase((CONTROLLER,), "UPDATE", "alice", {}, None, True),
        id="an empty annotations map appearing is no change",
    ),
    pytest.param(
        ExtraCase((CONTROLLER,), "UPDATE", CONTROLLER, None, {KEY: "true"}, True),
        id="the controller removes the whole map",
    ),
]


@pytest.mark.parametrize("case", EXTRA_CASES)
def test_policy_extra_cases(case: ExtraCase) -> None:
    evaluator = PolicyEvaluator(policy_for(*case.usernames))
    old = promotion(case.old) if case.operation == "UPDATE" else None
    verdict = evaluator.evaluate(
        operation=case.operation, username=case.username, obj=promotion(case.new), old=old
    )
    body = review(promotion(case.new), operation=case.operation, old=old, username=case.username)
    decision = validate_promotion(
        decode_review(orjson.dumps(body)), is_controller=ControllerIdentity.of(case.usernames)
    )
    assert verdict.allowed is case.allowed
    assert decision.allowed is case.allowed


def test_policy_ignores_delete_and_other_operations_by_its_match_constraints() -> None:
    (rule,) = policy_for(CONTROLLER)["spec"]["matchConstraints"]["resourceRules"]
    assert rule["operations"] == ["CREATE", "UPDATE"]


# --- the objects ----------------------------------------------------------------------------


def test_policy_and_binding_structure() -> None:
    policy, binding = build_policy(
        [CONTROLLER, "system:serviceaccount:kargo:kargo-controller-2"], "guard"
    )
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert (policy["kind"], binding["kind"]) == (
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    )
    assert policy["metadata"]["name"] == binding["metadata"]["name"] == "guard"
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"] == [
        {
            "apiGroups": ["kargo.akuity.io"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["promotions"],
            "scope": "Namespaced",
        }
    ]
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    assert list(variables) == ["isController", "hasNew", "hasOld", "unchanged", "verb"]
    assert variables["isController"] == (
        "request.userInfo.username in ['system:serviceaccount:kargo:kargo-controller', "
        "'system:serviceaccount:kargo:kargo-controller-2']"
    )
    assert variables["hasNew"] == (
        "has(object.metadata.annotations) && "
        "'kargo.akuity.io/rollback' in object.metadata.annotations"
    )
    (validation,) = spec["validations"]
    assert validation["expression"] == "variables.isController || variables.unchanged"
    assert validation["reason"] == "Forbidden"
    assert binding["spec"] == {"policyName": "guard", "validationActions": ["Deny"]}


@pytest.mark.parametrize(
    "version",
    [kubernetes_validate.latest_version(), OLDEST_SUPPORTED_KUBERNETES],
    ids=["newest bundled schema", "Kubernetes 1.30"],
)
def test_policy_validates_against_the_kubernetes_schema(version: str) -> None:
    for obj in build_policy([CONTROLLER, ODD], DEFAULT_POLICY_NAME):
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(
    ("usernames", "name", "message"),
    [
        pytest.param([], DEFAULT_POLICY_NAME, "non-empty list", id="no usernames"),
        pytest.param(CONTROLLER, DEFAULT_POLICY_NAME, "non-empty list", id="a string, not a list"),
        pytest.param([""], DEFAULT_POLICY_NAME, "non-empty", id="empty username"),
        pytest.param(
            [CONTROLLER + "\n"], DEFAULT_POLICY_NAME, "surrounding", id="trailing newline"
        ),
        pytest.param([CONTROLLER], "Guard", "DNS-1123", id="upper-case name"),
        pytest.param([CONTROLLER], "a" * 254, "DNS-1123", id="name too long"),
        pytest.param([CONTROLLER], "", "DNS-1123", id="empty name"),
    ],
)
def test_build_policy_refuses(usernames: Any, name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_policy(usernames, name)


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        pytest.param("plain", "'plain'", id="plain"),
        pytest.param("it's", "'it\\'s'", id="quote"),
        pytest.param("a\\b", "'a\\\\b'", id="backslash"),
        pytest.param("tab\there", "'tab\\x09here'", id="control character"),
    ],
)
def test_cel_string(text: str, literal: str) -> None:
    assert cel_string(text) == literal
    assert cel.evaluate(literal) == text


def test_duplicate_usernames_are_listed_once() -> None:
    variables = policy_for(CONTROLLER, CONTROLLER)["spec"]["variables"]
    assert variables[0]["expression"].count(CONTROLLER) == 1


# --- the command ----------------------------------------------------------------------------


def test_policy_command_prints_build_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "policy",
            "--name",
            "guard",
            "--controller-username",
            CONTROLLER,
            "--controller-username",
            "b",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out == render_policy([CONTROLLER, "b"], "guard")
    assert list(yaml.safe_load_all(out)) == build_policy([CONTROLLER, "b"], "guard")


def test_policy_command_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["policy"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert docs == build_policy([DEFAULT_CONTROLLER_USERNAME], DEFAULT_POLICY_NAME)


def test_policy_yaml_shows_cel_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["policy"]) == 0
    out = capsys.readouterr().out
    # Literal blocks: the CEL reads exactly as written, no YAML quote doubling.
    assert "      !variables.hasOld ? 'set' : (variables.hasNew ? 'change' : 'remove')\n" in out
    assert "''" not in out


def test_policy_console_script() -> None:
    result = subprocess.run(
        [str(SCRIPT), "policy", "--name", "rollback-guard"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout)]
    assert kinds == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--name", "Not_A_Name"], "DNS-1123", id="bad name"),
        pytest.param(["--controller-username", " x"], "surrounding", id="bad username"),
    ],
)
def test_policy_command_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["policy", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
