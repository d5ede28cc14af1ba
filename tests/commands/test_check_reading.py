"""`kargo-rollback-webhook check`: what it reads and how it counts, and input it refuses.

Documents, lists and files, and how each is counted; YAML and JSON errors with their lines;
hostile YAML (alias bombs, recursive aliases) refused fast; YAML that JSON cannot say, read as
Kubernetes reads it. Fixtures as in test_check.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from app.commands.check import (
    CheckOptions,
    check_paths,
)
from app.commands.manifests import MAX_EXPANDED_VALUES
from tests.commands.check_support import (
    HOSTILE,
    KARGO,
    PROMOTION_WITH_ROLLBACK,
    VALID,
    check_text,
    project_config,
    run_cli,
)
from tests.support.reviews import KEY

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
