"""`check`'s output formats: for people (text), for scripts (json) and for CI systems.

- `text`: a line per finding, the Stage → policy table when Stages were read, a summary.
- `json`: one object, `Report.to_json`.
- `sarif`: SARIF 2.1.0 (OASIS), which GitHub code scanning and other tools ingest: one rule per
  kind of finding (the finding's reason: `FieldValueInvalid`, `StageNotFound`, ...), each result
  with its file, line and column.
- `junit`: JUnit XML, the test report GitLab and Jenkins show: a test suite per file read, a
  test case per finding (an error is a failure, a warning passes unless `--strict`), an
  unreadable input an error, and one passing case for a file without findings.
- `github`: GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`),
  which annotate the lines of a pull request; escaped as the Actions toolkit does
  (`toCommandValue`/`escapeData`/`escapeProperty` in actions/toolkit packages/core/src/command.ts).

Input errors go to stderr in text and json, so a CI log shows them; the CI formats carry them
in the report itself.
"""

from __future__ import annotations

from typing import Final, Literal, TextIO
from urllib.parse import quote
from xml.etree import ElementTree

import orjson

from app.commands.report import Finding, Report, StagePolicy

OutputFormat = Literal["text", "json", "sarif", "junit", "github"]
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = ("text", "json", "sarif", "junit", "github")

TOOL_NAME: Final = "kargo-rollback-webhook"
SARIF_SCHEMA: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INPUT_ERROR_RULE: Final = "UnreadableInput"
_WARNING_RULE: Final = "Warning"  # a warning of the webhook's own, which carries no reason


def write_report(report: Report, output: OutputFormat, *, out: TextIO, err: TextIO) -> None:
    """Write `report` to `out` in the `output` format."""
    if output in ("text", "json"):
        for error in report.input_errors:
            err.write(f"{error}\n")
    if output == "json":
        out.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif output == "sarif":
        out.write(orjson.dumps(sarif(report), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif output == "junit":
        out.write(junit(report) + "\n")
    elif output == "github":
        out.write("".join(line + "\n" for line in github(report)) + report.summary() + "\n")
    else:
        table = stage_table(report.stage_policies) if report.stages else ""
        out.write("".join(f"{finding}\n" for finding in report.findings) + table)
        out.write(report.summary() + "\n")


# --- text -----------------------------------------------------------------------------------------


def stage_table(rows: list[StagePolicy]) -> str:
    """The Stage → policy table, aligned columns, one Stage a line."""
    header = ("PROJECT", "STAGE", "POLICY", "AUTO-PROMOTION", "ALSO MATCHED BY")
    lines = [header]
    for row in rows:
        if row.policy is None:
            policy = "none"
        else:
            policy = f"spec.promotionPolicies[{row.policy}] ({row.selector})"
        lines.append(
            (
                row.project or "?",
                row.stage,
                policy,
                "enabled" if row.auto_promotion else "off",
                ", ".join(f"[{i}]" for i in row.shadowed) or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = "Stage -> policy (Kargo applies the first matching policy):\n"
    for line in lines:
        text += (
            "  "
            + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            + "\n"
        )
    return text


# --- SARIF ----------------------------------------------------------------------------------------


def rule_id(finding: Finding) -> str:
    """One rule per kind of finding: its reason, or `Warning` for a webhook warning."""
    return finding.reason or _WARNING_RULE


def sarif(report: Report) -> dict[str, object]:
    """The report as a SARIF 2.1.0 log with one run."""
    rules: dict[str, dict[str, object]] = {}
    results: list[dict[str, object]] = []

    def rule_index(rule: str, level: str) -> int:
        if rule not in rules:
            rules[rule] = {
                "id": rule,
                "shortDescription": {"text": _RULE_TEXT.get(rule, rule)},
                "defaultConfiguration": {"level": level},
            }
        return list(rules).index(rule)

    for finding in report.findings:
        rule = rule_id(finding)
        level = "error" if finding.severity == "error" else "warning"
        text = f"{finding.field}: {finding.message}" if finding.field else finding.message
        results.append(
            {
                "ruleId": rule,
                "ruleIndex": rule_index(rule, level),
                "level": level,
                "message": {"text": text},
                "locations": [_location(finding.location.file, finding.line, finding.column)],
            }
        )
    for error in report.input_errors:
        results.append(
            {
                "ruleId": INPUT_ERROR_RULE,
                "ruleIndex": rule_index(INPUT_ERROR_RULE, "error"),
                "level": "error",
                "message": {"text": error.message},
                "locations": [_location(error.file, error.line, error.column)],
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


_RULE_TEXT: Final = {
    "StageNotFound": "A policy names a Stage that is not among the inputs",
    "PolicyMatchesNoStage": "A policy's selector matches no Stage among the inputs",
    "PolicyShadowed": "A policy is shadowed by an earlier policy that matches the same Stages",
    "UnanchoredRegex": "A regex: stage selector without ^...$ anchors also matches longer names",
    "MatchNotEvaluated": "A stage selector that could not be evaluated here",
    INPUT_ERROR_RULE: "An input that cannot be read as YAML or JSON",
    _WARNING_RULE: "A warning the webhook would return",
}


def _location(file: str, line: int | None, column: int | None) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": {"uri": _uri(file)}}
    if line is not None:
        region: dict[str, object] = {"startLine": line}
        if column is not None:
            region["startColumn"] = column
        physical["region"] = region
    return {"physicalLocation": physical}


def _uri(file: str) -> str:
    """A relative URI reference for a path as given: '/' kept, everything unsafe escaped."""
    return quote(file.replace("\\", "/"), safe="/-._~")


# --- JUnit XML ------------------------------------------------------------------------------------


def junit(report: Report) -> str:
    """The report as JUnit XML: a `<testsuite>` per file, a `<testcase>` per finding."""
    suites: dict[str, list[ElementTree.Element]] = {file: [] for file in report.files}
    for finding in report.findings:
        case = ElementTree.Element(
            "testcase",
            classname=finding.location.file,
            name=_case_name(finding),
        )
        text = f"{_where(finding.location.file, finding.line, finding.column)}: {finding.message}"
        if finding.severity == "error" or report.strict:
            failure = ElementTree.SubElement(
                case, "failure", type=rule_id(finding), message=finding.message
            )
            failure.text = text
        else:
            ElementTree.SubElement(case, "system-out").text = "warning: " + text
        suites.setdefault(finding.location.file, []).append(case)
    for error in report.input_errors:
        case = ElementTree.Element("testcase", classname=error.file, name="read")
        element = ElementTree.SubElement(
            case, "error", type=INPUT_ERROR_RULE, message=error.message
        )
        element.text = str(error)
        suites.setdefault(error.file, []).append(case)
    root = ElementTree.Element("testsuites", name=f"{TOOL_NAME} check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for file, found in suites.items():
        cases = found or [ElementTree.Element("testcase", classname=file, name="check")]
        failures = sum(1 for c in cases if c.find("failure") is not None)
        errors = sum(1 for c in cases if c.find("error") is not None)
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(cases)),
            failures=str(failures),
            errors=str(errors),
            skipped="0",
        )
        suite.extend(cases)
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["errors"] += errors
    for key, value in totals.items():
        root.set(key, str(value))
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def _case_name(finding: Finding) -> str:
    subject = "/".join(p for p in (finding.kind, finding.namespace, finding.name) if p)
    where = f" (document {finding.location.document})"
    return f"{subject or 'manifest'}{where}: {finding.field or rule_id(finding)}"


def _where(file: str, line: int | None, column: int | None) -> str:
    if line is None:
        return file
    return f"{file}:{line}" + (f":{column}" if column is not None else "")


# --- GitHub Actions -------------------------------------------------------------------------------


def github(report: Report) -> list[str]:
    """One workflow command per finding and unreadable input."""
    lines: list[str] = []
    for finding in report.findings:
        message = f"{finding.field}: {finding.message}" if finding.field else finding.message
        lines.append(
            _command(
                "error" if finding.severity == "error" else "warning",
                finding.location.file,
                finding.line,
                finding.column,
                title=f"{TOOL_NAME}: {rule_id(finding)}",
                message=message,
            )
        )
    for error in report.input_errors:
        title = f"{TOOL_NAME}: {INPUT_ERROR_RULE}"
        lines.append(
            _command(
                "error", error.file, error.line, error.column, title=title, message=error.message
            )
        )
    return lines


def _command(
    level: str, file: str, line: int | None, column: int | None, *, title: str, message: str
) -> str:
    properties = [f"file={escape_property(file)}"]
    if line is not None:
        properties.append(f"line={line}")
        if column is not None:
            properties.append(f"col={column}")
    properties.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(properties)}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """A command's message: `%`, CR and LF escaped (actions/toolkit `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: also `:` and `,` (actions/toolkit `escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
