"""`kargo-rollback-webhook check`: the webhook's rules on manifests, for CI and pre-commit.

Manifests live in tests/fixtures/check/ (valid/, invalid/, broken/, hostile/); variants that
only differ in a line or two are written into tmp_path by the test. The exit-code contract is
tested on the installed console script itself, in a subprocess.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.commands.check import (
    DEFAULT_CHECK_USER,
    CheckOptions,
    check_paths,
)
from app.k8s.field import MAX_REPORTED_ERRORS
from app.k8s.status import OMITTED_ERRORS_REASON
from app.k8s.warnings import MAX_WARNINGS
from app.kargo.projectconfig import validate_project_config
from tests.commands.check_support import (
    BROKEN,
    HOSTILE,
    INVALID,
    KARGO,
    PROMOTION_WITH_ROLLBACK,
    SCRIPT,
    VALID,
    check_text,
    project_config,
    run_cli,
    run_script,
)
from tests.support.reviews import CONTROLLER, KEY

# --- the console script: exit codes ---------------------------------------------------------


@dataclass(frozen=True)
class ScriptCase:
    args: tuple[str, ...]
    code: int
    stdout: str = ""  # a substring of stdout
    stderr: str = ""  # a substring of stderr
    stdin: str = ""


SCRIPT_CASES = [
    pytest.param(
        ScriptCase(
            (str(VALID),),
            0,
            stdout="6 manifests checked: 2 ProjectConfigs, 1 Promotion, 3 skipped; 0 problems",
        ),
        id="a clean directory: 0",
    ),
    pytest.param(
        ScriptCase(("-f", str(INVALID / "projectconfig.yaml")), 1, stdout="2 problems"),
        id="an invalid ProjectConfig: 1",
    ),
    pytest.param(
        ScriptCase((str(INVALID / "promotion.yaml"),), 1, stdout="Forbidden"),
        id="a Promotion with the rollback annotation, as another user: 1",
    ),
    pytest.param(
        ScriptCase((str(INVALID / "promotion.yaml"), "--as", CONTROLLER), 0, stdout="0 problems"),
        id="the same Promotion as the controller: 0",
    ),
    pytest.param(
        ScriptCase(
            (str(BROKEN / "syntax-error.yaml"),),
            2,
            stderr="syntax-error.yaml:5:5: YAML error: did not find expected ',' or ']'",
        ),
        id="a YAML error: 2, with file, line and column",
    ),
    pytest.param(
        ScriptCase((str(VALID), str(INVALID), str(BROKEN)), 2, stdout="3 problems"),
        id="unreadable input wins over invalid manifests, which are still reported: 2",
    ),
    pytest.param(
        ScriptCase(("no/such/file.yaml",), 2, stderr="no/such/file.yaml: no such file"),
        id="a missing file: 2",
    ),
    pytest.param(ScriptCase((), 2, stderr="name a file"), id="no input named: 2"),
    pytest.param(
        ScriptCase((str(VALID), "--autorollback-schema", "newest"), 2, stderr="invalid choice"),
        id="a bad option value: 2",
    ),
    pytest.param(
        ScriptCase((str(VALID), "--controller-username", " padded"), 2, stderr="surrounding"),
        id="a username the webhook would refuse: 2",
    ),
    pytest.param(
        ScriptCase(
            ("-f", "-"), 1, stdout="<stdin>:1: metadata.annotations", stdin=PROMOTION_WITH_ROLLBACK
        ),
        id="stdin: 1",
    ),
    pytest.param(
        ScriptCase(("-",), 0, stdout="1 ProjectConfig", stdin=project_config()),
        id="stdin, named as a path: 0",
    ),
    pytest.param(
        ScriptCase((str(HOSTILE / "billion-laughs.yaml"),), 2, stderr="expand this document"),
        id="billion laughs: 2",
    ),
]


@pytest.mark.parametrize("case", SCRIPT_CASES)
def test_console_script_exit_codes(case: ScriptCase) -> None:
    assert SCRIPT.exists(), f"console script not installed next to {sys.executable}"
    result = run_script(*case.args, stdin=case.stdin)
    assert result.returncode == case.code, (result.stdout, result.stderr)
    assert case.stdout in result.stdout
    assert case.stderr in result.stderr


# --- the rules: the webhook's own code --------------------------------------------------------


@dataclass(frozen=True)
class RuleCase:
    text: str
    options: dict[str, Any]
    problems: list[tuple[str, str]]  # (field, message substring), in order
    warnings: list[str] = field(default_factory=list)


RULE_CASES = [
    pytest.param(
        RuleCase(
            PROMOTION_WITH_ROLLBACK, {}, [(f"metadata.annotations[{KEY}]", DEFAULT_CHECK_USER)]
        ),
        id="promotion with the annotation: denied for the default user",
    ),
    pytest.param(
        RuleCase(
            PROMOTION_WITH_ROLLBACK,
            {"username": "alice"},
            [(f"metadata.annotations[{KEY}]", '"alice" may not set')],
        ),
        id="promotion with the annotation: denied for --as alice",
    ),
    pytest.param(
        RuleCase(PROMOTION_WITH_ROLLBACK, {"username": CONTROLLER}, []),
        id="promotion with the annotation: allowed for the controller",
    ),
    pytest.param(
        RuleCase(
            PROMOTION_WITH_ROLLBACK,
            {"username": "system:serviceaccount:kargo:kargo-controller-2"},
            [(f"metadata.annotations[{KEY}]", "may not set")],
        ),
        id="promotion: a look-alike controller name is another user",
    ),
    pytest.param(
        RuleCase(
            PROMOTION_WITH_ROLLBACK,
            {
                "username": "system:serviceaccount:kargo:kargo-controller-2",
                "controller_usernames": (
                    CONTROLLER,
                    "system:serviceaccount:kargo:kargo-controller-2",
                ),
            },
            [],
        ),
        id="promotion: --controller-username adds a controller",
    ),
    pytest.param(
        RuleCase(
            PROMOTION_WITH_ROLLBACK.replace('"true"', '"yes"'),
            {"username": CONTROLLER},
            [],
            warnings=["is not a rollback"],
        ),
        id="promotion by the controller with a value other than true: a warning",
    ),
    pytest.param(
        RuleCase(PROMOTION_WITH_ROLLBACK.replace(KEY, "kargo.akuity.io/Rollback"), {}, []),
        id="promotion with a look-alike key: not guarded",
    ),
    pytest.param(
        RuleCase(
            project_config("other", "proj"),
            {},
            [("metadata.name", 'must match project name "proj"')],
        ),
        id="name rule with a namespace in the manifest",
    ),
    pytest.param(
        RuleCase(project_config("other", None), {}, []),
        id="no namespace: the name is taken as the project",
    ),
    pytest.param(
        RuleCase(
            project_config("other", None),
            {"namespace": "proj"},
            [("metadata.name", 'project name "proj"')],
        ),
        id="no namespace with --namespace: the name rule applies",
    ),
    pytest.param(
        RuleCase(project_config("proj", "proj"), {"namespace": "elsewhere"}, []),
        id="the manifest's namespace wins over --namespace",
    ),
    pytest.param(
        RuleCase(
            f"{KARGO}kind: ProjectConfig\nmetadata: {{}}\nspec: {{}}\n",
            {},
            [("metadata.name", "Required value")],
        ),
        id="no name and no namespace: only the name is required",
    ),
    pytest.param(
        RuleCase(
            project_config(
                policies="    - stage: dev\n      autoRollback: {onFailedPromotions: true}\n"
            ),
            {"autorollback_schema": "upstream"},
            [("spec.promotionPolicies[0].autoRollback.onFailedPromotions", "Unsupported value")],
        ),
        id="--autorollback-schema upstream refuses the seed shape",
    ),
    pytest.param(
        RuleCase(
            project_config(
                policies="    - stage: dev\n      autoRollback: {onFailedPromotions: true}\n"
            ),
            {"autorollback_schema": "seed"},
            [],
        ),
        id="--autorollback-schema seed accepts it",
    ),
    pytest.param(
        RuleCase(
            project_config(policies="    - stageSelector: {}\n"),
            {},
            [],
            warnings=["selects every Stage"],
        ),
        id="a warning does not fail the check",
    ),
    pytest.param(
        RuleCase(
            project_config(policies="    - stage: dev\n").replace("v1alpha1", "v1beta1"),
            {},
            [],
            warnings=["kargo.akuity.io/v1beta1 ProjectConfig not checked"],
        ),
        id="another version of Kargo's kinds: skipped with a warning",
    ),
]


@pytest.mark.parametrize("case", RULE_CASES)
def test_rules(case: RuleCase, tmp_path: Path) -> None:
    report = check_text(case.text, tmp_path, **case.options)
    assert [(p.field, p.severity) for p in report.problems] == [
        (f, "error") for f, _ in case.problems
    ]
    for problem, (_, message) in zip(report.problems, case.problems, strict=True):
        assert message in problem.message
    assert len(report.warnings) == len(case.warnings)
    for warning, text in zip(report.warnings, case.warnings, strict=True):
        assert text in warning.message
        assert ": warning: " in str(warning)
    assert report.exit_code == (1 if case.problems else 0)


def test_project_config_errors_are_the_webhooks(tmp_path: Path) -> None:
    """check reports exactly what validate_project_config returns for a CREATE."""
    path = INVALID / "projectconfig.yaml"
    expected = validate_project_config(
        yaml.safe_load(path.read_text()), operation="CREATE", schema="any"
    )
    report = check_paths([str(path)], CheckOptions())
    assert [(p.field, p.message, p.reason) for p in report.problems] == [
        (e.field, e.message, e.type.reason) for e in expected.errors
    ]
    assert [p.message for p in report.problems] != []


def test_errors_past_the_hundredth_are_counted_in_one_problem(tmp_path: Path) -> None:
    policies = "".join(f"    - stage: BAD{i}\n" for i in range(250))
    report = check_text(project_config(policies=policies), tmp_path)
    assert len(report.problems) == MAX_REPORTED_ERRORS + 1
    assert report.problems[-1].message == "150 more errors not shown"
    assert report.problems[-1].reason == OMITTED_ERRORS_REASON


def test_warnings_past_the_twentieth_are_counted_in_one_warning(tmp_path: Path) -> None:
    policies = "".join("    - stageSelector: {}\n" for _ in range(30))
    report = check_text(project_config(policies=policies), tmp_path)
    assert len(report.warnings) == MAX_WARNINGS
    assert report.warnings[-1].message == "11 more warnings not shown"


# --- output ---------------------------------------------------------------------------------


def test_text_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, str(INVALID / "projectconfig.yaml"))
    path = INVALID / "projectconfig.yaml"
    assert code == 1
    assert out.splitlines() == [
        f'{path}:1: spec.promotionPolicies[1]: Invalid value: "prod": '
        "stage name already defined at spec.promotionPolicies[0]",
        f"{path}:1: spec.promotionPolicies[1].autoRollback.onPromotion[1]: "
        'Invalid value: "Crashed": onPromotion[1] must be Failed or Errored',
        "1 manifest checked: 1 ProjectConfig, 0 Promotions, 0 skipped; 2 problems, 0 warnings",
    ]


def test_json_output_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "warn.yaml").write_text(project_config(policies="    - stageSelector: {}\n"))
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "-o",
        "json",
        str(INVALID),
        str(tmp_path / "warn.yaml"),
        str(BROKEN),
    )
    assert code == 2
    assert "syntax-error.yaml:5:5" in err
    data = json.loads(out)
    assert set(data) == {"problems", "warnings", "inputErrors", "counts"}
    assert data["counts"] == {
        "manifests": 3,
        "projectConfigs": 2,
        "promotions": 1,
        "skipped": 0,
        "problems": 3,
        "warnings": 1,
        "inputErrors": 1,
    }
    first = data["problems"][0]
    assert first == {
        "file": str(INVALID / "projectconfig.yaml"),
        "document": 1,
        "listItems": [],
        "line": 9,  # the second policy, where the duplicate name is
        "column": 7,
        "kind": "ProjectConfig",
        "name": "guestbook",
        "namespace": "guestbook",
        "field": "spec.promotionPolicies[1]",
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "prod": stage name already defined at spec.promotionPolicies[0]',
    }
    forbidden = data["problems"][2]
    assert (forbidden["kind"], forbidden["reason"], forbidden["line"]) == (
        "Promotion",
        "FieldValueForbidden",
        7,  # the annotation's line
    )
    assert data["warnings"][0]["field"] == ""
    assert "selects every Stage" in data["warnings"][0]["message"]
    assert data["inputErrors"] == [
        {
            "file": str(BROKEN / "syntax-error.yaml"),
            "line": 5,
            "column": 5,
            "message": "YAML error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 4)",
        }
    ]
