"""`check`'s CI formats, read back by real consumers' parsers.

SARIF is validated against the official SARIF 2.1.0 JSON schema (OASIS, checked in at
tests/fixtures/sarif/, see the README there) with jsonschema's Draft 4 validator, the schema's
own dialect. JUnit XML is read with junitparser. GitHub workflow commands are checked against
the escaping of actions/toolkit (packages/core/src/command.ts: `escapeData`, `escapeProperty`).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import orjson
import pytest
from junitparser import Error, Failure, JUnitXml

from app import cli
from app.commands.check import CheckOptions, check_paths
from app.commands.formats import escape_data, escape_property, github

FIXTURES = Path(__file__).parents[1] / "fixtures"
SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
REPO = FIXTURES / "check" / "sample-repo"
FINDINGS = (str(REPO / "project.yaml"), str(REPO / "stages"), str(REPO / "findings"))
INVALID = FIXTURES / "check" / "invalid"
BROKEN = FIXTURES / "check" / "broken"


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code = cli.main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_schema_is_the_official_one() -> None:
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    jsonschema.Draft4Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param(FINDINGS, id="stage and policy warnings"),
        pytest.param((str(INVALID),), id="invalid manifests"),
        pytest.param((str(BROKEN),), id="unreadable inputs"),
        pytest.param((str(REPO / "clean"),), id="clean"),
    ],
)
def test_sarif_validates_against_the_schema(
    paths: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, json_out, _ = run(capsys, monkeypatch, "-o", "json", *paths)
    _, out, err = run(capsys, monkeypatch, "-o", "sarif", *paths)
    assert err == ""  # unreadable inputs are results, not stderr lines
    log = orjson.loads(out)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["$schema"] == SCHEMA["id"]
    (sarif_run,) = log["runs"]
    results, rules = sarif_run["results"], sarif_run["tool"]["driver"]["rules"]
    report = orjson.loads(json_out)
    expected = len(report["problems"]) + len(report["warnings"]) + len(report["inputErrors"])
    assert len(results) == expected
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))  # one rule per kind of finding
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_results_carry_file_line_and_column(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = run(capsys, monkeypatch, "-o", "sarif", *FINDINGS)
    results = orjson.loads(out)["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert set(by_rule) == {
        "StageNotFound",
        "UnanchoredRegex",
        "PolicyShadowed",
        "PolicyMatchesNoStage",
    }
    location = by_rule["StageNotFound"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("sample-repo/findings/projectconfig.yaml")
    assert location["region"] == {"startLine": 14, "startColumn": 15}
    assert all(r["level"] == "warning" for r in results)


def test_sarif_errors_are_errors_with_their_reason_as_rule(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = run(capsys, monkeypatch, "-o", "sarif", str(INVALID))
    results = orjson.loads(out)["runs"][0]["results"]
    errors = [r for r in results if r["level"] == "error"]
    assert errors
    assert {r["ruleId"] for r in errors} >= {"FieldValueInvalid"}


def test_junit_is_read_by_a_junit_parser(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "-o", "junit", str(INVALID), str(BROKEN), *FINDINGS)
    assert code == 2  # unreadable input wins, as in every format
    xml = JUnitXml.fromstring(out)
    _, json_out, _ = run(capsys, monkeypatch, "-o", "json", str(INVALID), str(BROKEN), *FINDINGS)
    report = orjson.loads(json_out)
    failures = errors = passed = 0
    for suite in xml:
        for case in suite:
            kinds = {type(result) for result in case.result}
            failures += Failure in kinds
            errors += Error in kinds
            passed += not kinds
    assert failures == len(report["problems"])  # warnings pass without --strict
    assert errors == len(report["inputErrors"])
    assert passed >= len(report["warnings"])
    assert int(xml.failures) == failures
    assert int(xml.errors) == errors


def test_junit_with_strict_fails_the_warnings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "-o", "junit", "--strict", *FINDINGS)
    assert code == 1
    xml = JUnitXml.fromstring(out)
    failed = [case for suite in xml for case in suite if case.result]
    assert len(failed) == 4
    assert {case.result[0].type for case in failed} == {
        "StageNotFound",
        "UnanchoredRegex",
        "PolicyShadowed",
        "PolicyMatchesNoStage",
    }
    # Every file read is a suite; files without findings have one passing case.
    assert len(list(xml)) == 9


def test_github_annotations(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, monkeypatch, "-o", "github", *FINDINGS)
    assert code == 0
    lines = out.splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 4
    file = str(REPO / "findings" / "projectconfig.yaml")
    assert (
        f"::warning file={file},line=14,col=15,"
        "title=kargo-rollback-webhook%3A StageNotFound::spec.promotionPolicies[1]"
    ) in out
    assert lines[-1].endswith("0 problems, 4 warnings")


def test_github_errors_for_problems_and_unreadable_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, err = run(capsys, monkeypatch, "-o", "github", str(INVALID), str(BROKEN))
    assert err == ""
    commands = [line for line in out.splitlines() if line.startswith("::")]
    assert commands
    assert all(line.startswith("::error file=") for line in commands)
    assert any("title=kargo-rollback-webhook%3A UnreadableInput" in line for line in commands)


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
        ("%0A", "%250A", "%250A"),  # the percent first, so an escape is never undone
    ],
)
def test_workflow_command_escaping(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def test_a_file_name_with_separators_stays_one_property(tmp_path: Path) -> None:
    odd = tmp_path / "a,b:c.yaml"
    odd.write_text((INVALID / "projectconfig.yaml").read_text())
    (line, *_) = github(check_paths([str(odd)], CheckOptions()))
    properties = line.split("::")[1].removeprefix("error ")
    assert properties.startswith(f"file={tmp_path}/a%2Cb%3Ac.yaml,line=")


def test_the_console_script_writes_sarif_and_strict_fails_on_warnings() -> None:
    """The installed command, in its own process, as a CI job runs it."""
    script = Path(sys.executable).parent / "kargo-rollback-webhook"
    done = subprocess.run(
        [str(script), "check", "-o", "sarif", "--strict", *FINDINGS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    jsonschema.Draft4Validator(SCHEMA).validate(orjson.loads(done.stdout))
