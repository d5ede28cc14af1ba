"""`kargo-rollback-webhook check`: the webhook's rules on manifests, for CI and pre-commit.

Manifests live in tests/fixtures/check/ (valid/, invalid/, broken/, hostile/); variants that
only differ in a line or two are written into tmp_path by the test. The exit-code contract is
tested on the installed console script itself, in a subprocess.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import cli
from app.commands.check import (
    DEFAULT_CHECK_USER,
    CheckOptions,
    check_paths,
)
from app.commands.manifests import MAX_EXPANDED_VALUES
from app.commands.report import Report
from app.k8s.field import MAX_REPORTED_ERRORS
from app.k8s.status import OMITTED_ERRORS_REASON
from app.k8s.warnings import MAX_WARNINGS
from app.kargo.projectconfig import validate_project_config
from tests.support.reviews import CONTROLLER, KEY

FIXTURES = Path(__file__).parents[1] / "fixtures" / "check"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
BROKEN = FIXTURES / "broken"
HOSTILE = FIXTURES / "hostile"
SCRIPT = Path(sys.executable).parent / "kargo-rollback-webhook"

KARGO = "apiVersion: kargo.akuity.io/v1alpha1\n"
PROMOTION_WITH_ROLLBACK = f"""{KARGO}kind: Promotion
metadata:
  name: p1
  namespace: proj
  annotations:
    {KEY}: "true"
spec: {{stage: prod, freight: abc}}
"""


def project_config(name: str = "proj", namespace: str | None = "proj", policies: str = "") -> str:
    metadata = f"  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    body = policies or "    - stage: dev\n"
    return f"{KARGO}kind: ProjectConfig\nmetadata:\n{metadata}spec:\n  promotionPolicies:\n{body}"


def run_script(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = cli.main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_text(text: str, tmp_path: Path, name: str = "m.yaml", **options: Any) -> Report:
    path = tmp_path / name
    path.write_text(text)
    return check_paths([str(path)], CheckOptions(**options))


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


# --- what is read, and how it is counted ------------------------------------------------------


@dataclass(frozen=True)
class ReadCase:
    files: dict[str, str]  # relative path -> content, written into tmp_path
    args: tuple[str, ...]  # paths relative to tmp_path ("-" is stdin)
    counts: tuple[int, int, int]  # ProjectConfigs, Promotions, skipped
    problems: list[str] = field(default_factory=list)  # substrings of the problem lines
    stdin: str = ""


LIST_OF_TWO = f"""apiVersion: v1
kind: List
items:
  - {KARGO.strip()}
    kind: ProjectConfig
    metadata: {{name: a, namespace: a}}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {{name: b}}
"""

READ_CASES = [
    pytest.param(
        ReadCase({"a.yaml": project_config()}, ("a.yaml",), (1, 0, 0)),
        id="one file",
    ),
    pytest.param(
        ReadCase(
            {"a.yaml": project_config() + "---\n" + PROMOTION_WITH_ROLLBACK + "---\n---\n"},
            ("a.yaml",),
            (1, 1, 0),
            ["a.yaml:2: metadata.annotations[kargo.akuity.io/rollback]: Forbidden"],
        ),
        id="multi-document file: documents numbered from 1, empty ones not counted",
    ),
    pytest.param(
        ReadCase(
            {"list.yaml": LIST_OF_TWO.replace("name: a, namespace: a", "name: x, namespace: a")},
            ("list.yaml",),
            (1, 0, 1),
            ['list.yaml:1 (List item 1): metadata.name: Invalid value: "x"'],
        ),
        id="List kind: items checked, numbered from 1",
    ),
    pytest.param(
        ReadCase(
            {
                "promotions.yaml": f"""{KARGO}kind: PromotionList
items:
  - metadata: {{name: p1, namespace: proj, annotations: {{{KEY}: "true"}}}}
"""
            },
            ("promotions.yaml",),
            (0, 1, 0),
            ["promotions.yaml:1 (List item 1): metadata.annotations"],
        ),
        id="typed List: items without kind take it from the list",
    ),
    pytest.param(
        ReadCase(
            {
                "nested.yaml": f"""apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: List
    items:
      - {KARGO.strip()}
        kind: ProjectConfig
        metadata: {{name: x, namespace: y}}
"""
            },
            ("nested.yaml",),
            (1, 0, 0),
            ["nested.yaml:1 (List item 1.1): metadata.name"],
        ),
        id="a List in a List",
    ),
    pytest.param(
        ReadCase(
            {
                "pc.json": json.dumps(
                    yaml.safe_load(project_config(policies="    - stage: Bad\n")), indent="\t"
                )
            },
            ("pc.json",),
            (1, 0, 0),
            ['pc.json:1: spec.promotionPolicies[0].stage: Invalid value: "Bad"'],
        ),
        id="JSON file, tab-indented",
    ),
    pytest.param(
        ReadCase(
            {},
            ("-",),
            (1, 0, 0),
            ["<stdin>:1: spec.promotionPolicies[0].stage"],
            stdin=json.dumps(yaml.safe_load(project_config(policies="    - stage: Bad\n"))),
        ),
        id="JSON on stdin",
    ),
    pytest.param(
        ReadCase(
            {
                "repo/a.yaml": project_config(),
                "repo/sub/b.yml": PROMOTION_WITH_ROLLBACK,
                "repo/sub/c.json": '{"apiVersion": "v1", "kind": "Secret"}',
                "repo/sub/notes.txt": PROMOTION_WITH_ROLLBACK,
                "repo/.hidden/d.yaml": PROMOTION_WITH_ROLLBACK,
            },
            ("repo",),
            (1, 1, 1),
            ["repo/sub/b.yml:1: metadata.annotations"],
        ),
        id="directory: recursive, *.yaml *.yml *.json only, hidden directories skipped",
    ),
    pytest.param(
        ReadCase(
            {"repo/a.yaml": project_config()},
            ("repo", "repo/a.yaml", "./repo/a.yaml"),
            (1, 0, 0),
        ),
        id="a file named twice is read once",
    ),
    pytest.param(
        ReadCase(
            {
                "other.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
just a string
---
- a list document
---
kind: ProjectConfig
metadata: {name: not-kargo}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: prod}
"""
            },
            ("other.yaml",),
            (0, 0, 5),
        ),
        id="other kinds, non-objects and ProjectConfig without Kargo's apiVersion are skipped",
    ),
    pytest.param(
        ReadCase(
            {"a.yaml": project_config(policies="    - stage: 2024-01-01T10:00:00Z\n")},
            ("a.yaml",),
            (1, 0, 0),
            ['spec.promotionPolicies[0].stage: Invalid value: "2024-01-01T10:00:00Z": should'],
        ),
        id="a timestamp-like scalar stays a string, as the API server decodes it",
    ),
    pytest.param(
        ReadCase(
            {
                "anchors.yaml": f"""{KARGO}kind: ProjectConfig
metadata: {{name: proj, namespace: proj}}
spec:
  promotionPolicies:
    - stage: staging
      autoRollback: &rollback {{onPromotion: [Failed], onVerification: [Bad]}}
    - stage: prod
      autoRollback: *rollback
"""
            },
            ("anchors.yaml",),
            (1, 0, 0),
            [
                "spec.promotionPolicies[0].autoRollback.onVerification[0]",
                "spec.promotionPolicies[1].autoRollback.onVerification[0]",
            ],
        ),
        id="ordinary anchors and aliases are accepted",
    ),
]


@pytest.mark.parametrize("case", READ_CASES)
def test_reading_and_counting(
    case: ReadCase,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, content in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, monkeypatch, *case.args, stdin=case.stdin)
    assert err == ""
    configs, promotions, skipped = case.counts
    total = configs + promotions + skipped
    summary = out.splitlines()[-1]
    assert summary.startswith(f"{total} manifest")
    assert f"{configs} ProjectConfig" in summary
    assert f"{promotions} Promotion" in summary
    assert f"{skipped} skipped" in summary
    lines = out.splitlines()[:-1]
    assert len(lines) == len(case.problems), out
    for line, expected in zip(lines, case.problems, strict=True):
        assert expected in line
    assert code == (1 if case.problems else 0)


def test_documents_before_a_yaml_error_are_still_checked(tmp_path: Path) -> None:
    text = PROMOTION_WITH_ROLLBACK + "---\nkind: [broken\n"
    report = check_text(text, tmp_path)
    assert report.promotions == 1
    assert len(report.problems) == 1
    (error,) = report.input_errors
    assert (error.line, error.message.startswith("YAML error")) == (11, True)  # end of input
    assert report.exit_code == 2


def test_json_error_has_line_and_column(tmp_path: Path) -> None:
    report = check_text('{\n  "kind": "Promotion",\n  "x": tru\n}\n', tmp_path, name="p.json")
    (error,) = report.input_errors
    assert (error.file.endswith("p.json"), error.line) == (True, 3)
    assert error.message.startswith("JSON error")
    assert str(error).startswith(f"{error.file}:3:")


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    report = check_paths([str(tmp_path / "missing.yaml"), str(VALID)], CheckOptions())
    assert report.exit_code == 2
    assert report.project_configs == 2  # the rest is still checked


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


def test_list_item_lines_point_into_the_item(tmp_path: Path) -> None:
    text = LIST_OF_TWO.replace("name: a, namespace: a", "name: x, namespace: a")
    (problem,) = check_text(text, tmp_path).problems
    assert (problem.location.items, problem.line) == ((1,), 6)


# --- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "billion-laughs.yaml", f"beyond {MAX_EXPANDED_VALUES:,} values", id="alias bomb"
        ),
        pytest.param("recursive.yaml", "contains itself", id="recursive alias"),
    ],
)
def test_hostile_yaml_is_refused_fast(name: str, message: str) -> None:
    start = time.perf_counter()
    report = check_paths([str(HOSTILE / name)], CheckOptions())
    assert time.perf_counter() - start < 2
    (error,) = report.input_errors
    assert message in error.message
    assert error.line is not None
    assert report.exit_code == 2
    assert report.manifests == 0


def test_alias_expansion_just_under_the_limit_is_accepted(tmp_path: Path) -> None:
    # 4 levels of 10 aliases: 10,000 strings, far under the limit.
    levels = ['l0: &l0 ["a", "a", "a", "a", "a", "a", "a", "a", "a", "a"]']
    for i in range(1, 4):
        levels.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    text = "apiVersion: v1\nkind: ConfigMap\n" + "\n".join(levels) + "\n"
    report = check_text(text, tmp_path)
    assert (report.input_errors, report.skipped) == ([], 1)


# --- YAML that is not JSON: read as Kubernetes reads it --------------------------------------

YAML_ONLY_SHAPES = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: demo, namespace: demo}
spec:
  promotionPolicies:
  - stageSelector:
      matchLabels:
        1: "one"
        true: "yes"
        env: !!binary cHJvZA==
  - stage: 2024-01-01
  - stageSelector:
      name: 12
"""


def test_yaml_keys_and_scalars_are_read_as_kubernetes_reads_them(tmp_path: Path) -> None:
    """Number and boolean keys become strings, `!!binary` the string of its bytes, a date
    stays a string (sigs.k8s.io/yaml): the checks see JSON, as the webhook does, and report
    instead of failing on a type no AdmissionReview can carry."""
    report = check_text(YAML_ONLY_SHAPES, tmp_path)
    assert report.input_errors == []
    assert report.project_configs == 1
    assert [(p.field, p.reason) for p in report.problems] == [
        ("spec.promotionPolicies[2].stageSelector.name", "FieldValueTypeInvalid")
    ]
    assert "must be of type string" in report.problems[0].message
    assert report.exit_code == 1


def test_a_null_mapping_key_is_a_yaml_error_with_its_line(tmp_path: Path) -> None:
    report = check_text("kind: ProjectConfig\nspec:\n  ~: 1\n", tmp_path)
    (error,) = report.input_errors
    assert error.message.startswith("YAML error")
    assert "keys must be strings" in error.message
    assert error.line == 3
    assert report.exit_code == 2
