"""`check` explains which promotion policy governs each Stage, on a realistic repository.

tests/fixtures/check/sample-repo holds the "shop" Project: its Project, twelve Stages (selected
by exact name, by the legacy `stage` field, by glob and regex patterns and by labels, and some by
none) and two ProjectConfigs for them: clean/ (no finding) and findings/ (each kind of warning
once). The expected policy of each Stage is worked out by hand from Kargo's first-match rule
(`findMatchingPromotionPolicy`, pkg/api/auto_promotion.go), written below, not computed.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import orjson
import pytest

from app import cli
from app.commands.check import CheckOptions, check_paths
from app.commands.exit_codes import EXIT_FAILED, EXIT_OK
from app.commands.explain import (
    MATCH_NOT_EVALUATED,
    POLICY_SHADOWED,
    Explanation,
    Policies,
    Stage,
    explain,
)
from app.commands.report import Report

REPO = Path(__file__).parents[1] / "fixtures" / "check" / "sample-repo"
COMMON = (str(REPO / "project.yaml"), str(REPO / "stages"))

# Stage -> (index of the governing policy or None, auto-promotion, shadowed policy indices)
CLEAN_TABLE = {
    "dev": (0, True, ()),  # stageSelector.name: dev
    "qa-1": (1, True, ()),  # glob:qa-*
    "qa-2": (1, True, ()),
    "uat": (2, True, ()),  # the legacy `stage: uat`
    "canary-eu": (3, True, ()),  # matchLabels tier: canary
    "canary-us": (3, True, ()),
    "prod-eu-1": (4, False, ()),  # regex:^prod-(eu|us)-[0-9]+$
    "prod-eu-2": (4, False, ()),
    "prod-us-1": (4, False, ()),
    "perf-eu": (5, True, ()),  # regex:^perf-[a-z]+$ and region In [eu]
    "perf-us": (None, False, ()),  # the name matches [5], the labels do not
    "hotfix": (None, False, ()),  # no policy selects it
}
FINDINGS_TABLE = {
    "dev": (0, True, ()),
    "qa-1": (2, True, ()),
    "qa-2": (2, True, ()),
    "uat": (7, True, ()),
    "canary-eu": (5, True, ()),  # [6] is glob:canary-* but wants tier: stable
    "canary-us": (5, True, ()),
    "prod-eu-1": (3, False, (4,)),  # regex:prod first, glob:prod-eu-* shadowed
    "prod-eu-2": (3, False, (4,)),
    "prod-us-1": (3, False, ()),
    "perf-eu": (None, False, ()),
    "perf-us": (None, False, ()),
    "hotfix": (None, False, ()),
}


def run(variant: str) -> Report:
    return check_paths([*COMMON, str(REPO / variant)], CheckOptions())


def table(report: Report) -> dict[str, tuple[int | None, bool, tuple[int, ...]]]:
    return {
        row.stage: (row.policy, row.auto_promotion, row.shadowed) for row in report.stage_policies
    }


def test_the_clean_repository_has_its_table_and_no_finding() -> None:
    report = run("clean")
    assert report.findings == []
    assert report.stages == 12
    assert table(report) == CLEAN_TABLE
    assert {row.project for row in report.stage_policies} == {"shop"}
    assert report.exit_code == EXIT_OK


def test_the_repository_with_mistakes_has_each_finding_at_its_line() -> None:
    report = run("findings")
    assert table(report) == FINDINGS_TABLE
    assert report.problems == []
    found = {(w.reason, w.field, w.line) for w in report.warnings}
    # Lines of the policies' name fields in findings/projectconfig.yaml.
    assert found == {
        ("StageNotFound", "spec.promotionPolicies[1].stageSelector.name", 14),
        ("UnanchoredRegex", "spec.promotionPolicies[3].stageSelector.name", 20),
        ("PolicyShadowed", "spec.promotionPolicies[4].stageSelector.name", 23),
        ("PolicyMatchesNoStage", "spec.promotionPolicies[6].stageSelector.name", 30),
    }
    messages = {w.reason: w.message for w in report.warnings}
    assert '"staging"' in messages["StageNotFound"]
    assert 'also matches "nonprod"' in messages["UnanchoredRegex"]
    assert "prod-eu-1, prod-eu-2" in messages["PolicyShadowed"]
    assert "spec.promotionPolicies[3]" in messages["PolicyShadowed"]
    assert all(
        w.location.file == str(REPO / "findings" / "projectconfig.yaml") for w in report.warnings
    )


def cli_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code = cli.main(["check", *args])
    return code, capsys.readouterr().out


def test_warnings_fail_only_with_strict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    findings = [*COMMON, str(REPO / "findings")]
    assert cli_run(capsys, monkeypatch, *findings)[0] == EXIT_OK
    assert cli_run(capsys, monkeypatch, "--strict", *findings)[0] == EXIT_FAILED
    clean = [*COMMON, str(REPO / "clean")]
    assert cli_run(capsys, monkeypatch, "--strict", *clean)[0] == EXIT_OK


def test_text_output_shows_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = cli_run(capsys, monkeypatch, *COMMON, str(REPO / "findings"))
    lines = out.splitlines()
    start = lines.index("Stage -> policy (Kargo applies the first matching policy):")
    rows = {line.split()[1]: line.split() for line in lines[start + 2 : start + 14]}
    assert len(rows) == 12
    assert rows["prod-eu-1"][2:] == ["spec.promotionPolicies[3]", "(regex:prod)", "off", "[4]"]
    assert rows["hotfix"][2:] == ["none", "off", "-"]
    assert rows["canary-eu"][2:] == ["spec.promotionPolicies[5]", "(labels)", "enabled", "-"]
    assert lines[-1].endswith("0 problems, 4 warnings")
    assert "12 Stages" in lines[-1]


def test_json_output_has_the_same_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = cli_run(capsys, monkeypatch, "-o", "json", *COMMON, str(REPO / "findings"))
    data = orjson.loads(out)
    rows = {row["stage"]: row for row in data["stagePolicies"]}
    got = {
        s: (r["policy"], r["autoPromotionEnabled"], tuple(r["shadowed"])) for s, r in rows.items()
    }
    assert got == FINDINGS_TABLE
    assert rows["prod-eu-1"]["selector"] == "regex:prod"
    assert rows["prod-eu-1"]["file"].endswith("stages/prod.yaml")
    assert rows["prod-eu-1"]["line"] == 4
    assert data["counts"]["stages"] == 12
    assert {w["reason"] for w in data["warnings"]} == {
        "StageNotFound",
        "UnanchoredRegex",
        "PolicyShadowed",
        "PolicyMatchesNoStage",
    }


def test_without_stages_nothing_is_added(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = cli_run(capsys, monkeypatch, "-o", "json", str(REPO / "findings"))
    data = orjson.loads(out)
    assert "stagePolicies" not in data
    assert "stages" not in data["counts"]
    assert data["warnings"] == []
    _, text = cli_run(capsys, monkeypatch, str(REPO / "findings"))
    assert "Stage ->" not in text
    assert "Stage" not in text.splitlines()[-1]


def test_stages_without_a_namespace_join_the_only_project(tmp_path: Path) -> None:
    (tmp_path / "pc.yaml").write_text(
        (REPO / "clean" / "projectconfig.yaml").read_text().replace("  namespace: shop\n", "")
    )
    stages = tmp_path / "stages"
    stages.mkdir()
    for source in (REPO / "stages").iterdir():
        (stages / source.name).write_text(source.read_text().replace("  namespace: shop\n", ""))
    report = check_paths([str(tmp_path)], CheckOptions())
    assert table(report) == CLEAN_TABLE
    assert report.findings == []


def test_stages_of_a_project_without_its_projectconfig_have_no_policy() -> None:
    report = check_paths(list(COMMON), CheckOptions())
    assert {row.policy for row in report.stage_policies} == {None}
    assert report.findings == []


def test_an_invalid_projectconfig_is_reported_not_explained(tmp_path: Path) -> None:
    bad = (REPO / "clean" / "projectconfig.yaml").read_text().replace("glob:qa-*", "glob:qa-[")
    (tmp_path / "pc.yaml").write_text(bad)
    report = check_paths([*COMMON, str(tmp_path / "pc.yaml")], CheckOptions())
    assert [p.field for p in report.problems] == ["spec.promotionPolicies[1].stageSelector.name"]
    assert report.warnings == []
    assert {row.policy for row in report.stage_policies} == {None}


# --- the first-match rule on its own ------------------------------------------------------------


def stage(name: str, **labels: str) -> Stage[str]:
    return Stage("p", name, labels, "stages.yaml", 1, name)


def explained(policies: list[object], *stages: Stage[str]) -> Explanation[str]:
    return explain([Policies("p", policies, "pc")], list(stages))


def test_a_policy_without_any_selector_governs_every_stage() -> None:
    # Kargo: no stageSelector means `stage` as the name; an empty name places no constraint.
    result = explained([{"autoPromotionEnabled": True}], stage("a"), stage("b"))
    assert [(row.stage, row.policy, row.auto_promotion) for row in result.rows] == [
        ("a", 0, True),
        ("b", 0, True),
    ]
    assert result.warnings == []


def test_an_empty_stage_selector_governs_every_stage_and_shadows_the_rest() -> None:
    result = explained([{"stageSelector": {}}, {"stage": "a"}], stage("a"))
    assert [(row.policy, row.shadowed) for row in result.rows] == [(0, (1,))]
    assert [(w.reason, str(w.path)) for w in result.warnings] == [
        (POLICY_SHADOWED, "spec.promotionPolicies[1].stage")
    ]


def test_the_name_and_the_labels_must_both_match() -> None:
    policy = {"stageSelector": {"name": "glob:prod-*", "matchLabels": {"tier": "stable"}}}
    result = explained([policy], stage("prod-a", tier="stable"), stage("prod-b", tier="canary"))
    assert {row.stage: row.policy for row in result.rows} == {"prod-a": 0, "prod-b": None}


def test_a_selector_that_cannot_be_evaluated_is_said_so() -> None:
    result = explained([{"stageSelector": {"name": "regex:("}}], stage("a"))
    assert [w.reason for w in result.warnings] == [MATCH_NOT_EVALUATED]
    assert result.rows[0].policy is None


def test_stages_of_another_project_are_not_matched() -> None:
    other = Stage("q", "a", {}, "stages.yaml", 1, "a")
    result = explain([Policies("p", [{"stage": "a"}], "pc")], [other])
    assert [(row.project, row.policy) for row in result.rows] == [("q", None)]
    assert result.warnings == []  # Project p has no Stage among the inputs: not explained
