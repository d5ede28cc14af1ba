"""What a `check` run found: findings, unreadable inputs, counts and the Stage → policy table.

Kept apart from the reading (`app.commands.check`) and the output formats
(`app.commands.formats`), which all speak of these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.commands.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Location:
    """A manifest: its file, its 1-based document, and its item numbers inside `List` kinds."""

    file: str
    document: int
    items: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.document}"
        if self.items:
            where += f" (List item {'.'.join(str(i) for i in self.items)})"
        return where


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem (fails the check) or a warning (shown only), with what it is about."""

    severity: Severity
    location: Location
    kind: str
    name: str
    namespace: str
    field: str  # the field path, "" when the finding is about the whole object
    message: str
    # The cause's reason (FieldValueInvalid, ...) or a policy warning's kind (StageNotFound,
    # ...): the rule id in SARIF; "" for the webhook's own warnings.
    reason: str
    line: int | None = None  # 1-based line of the field (or its nearest parent), when known
    column: int | None = None

    def __str__(self) -> str:
        parts = [str(self.location)]
        if self.severity == "warning":
            parts.append("warning")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "document": self.location.document,
            "listItems": list(self.location.items),
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "field": self.field,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class InputError:
    """An input that cannot be read or decoded; the check exits 2."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class StagePolicy:
    """One row of the Stage → policy table: the policy Kargo applies to a Stage, if any.

    `policy` is the index of the first matching entry of `spec.promotionPolicies` (None: no
    policy matches, so auto-promotion is off); `shadowed` are the later entries that match too.
    """

    project: str
    stage: str
    file: str
    line: int | None
    policy: int | None
    selector: str  # the winning policy's selector as written, "" when none matches
    auto_promotion: bool
    shadowed: tuple[int, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "project": self.project,
            "stage": self.stage,
            "file": self.file,
            "line": self.line,
            "policy": self.policy,
            "selector": self.selector,
            "autoPromotionEnabled": self.auto_promotion,
            "shadowed": list(self.shadowed),
        }


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    input_errors: list[InputError] = field(default_factory=list)
    project_configs: int = 0
    promotions: int = 0
    skipped: int = 0
    stages: int = 0
    files: list[str] = field(default_factory=list)  # every input read, as shown
    stage_policies: list[StagePolicy] = field(default_factory=list)
    strict: bool = False  # warnings fail the check too (`--strict`)

    @property
    def manifests(self) -> int:
        return self.project_configs + self.promotions + self.stages + self.skipped

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def exit_code(self) -> int:
        if self.input_errors:
            return EXIT_USAGE
        failing = self.problems or (self.strict and self.warnings)
        return EXIT_FAILED if failing else EXIT_OK

    def summary(self) -> str:
        text = (
            f"{_count(self.manifests, 'manifest')} checked: "
            f"{_count(self.project_configs, 'ProjectConfig')}, "
            f"{_count(self.promotions, 'Promotion')}, "
            + (f"{_count(self.stages, 'Stage')}, " if self.stages else "")
            + f"{self.skipped} skipped; "
            f"{_count(len(self.problems), 'problem')}, {_count(len(self.warnings), 'warning')}"
        )
        if self.input_errors:
            text += f", {_count(len(self.input_errors), 'unreadable input')}"
        return text

    def to_json(self) -> dict[str, object]:
        problems, warnings = self.problems, self.warnings
        counts: dict[str, object] = {
            "manifests": self.manifests,
            "projectConfigs": self.project_configs,
            "promotions": self.promotions,
            "skipped": self.skipped,
            "problems": len(problems),
            "warnings": len(warnings),
            "inputErrors": len(self.input_errors),
        }
        report: dict[str, object] = {
            "problems": [f.to_json() for f in problems],
            "warnings": [f.to_json() for f in warnings],
            "inputErrors": [e.to_json() for e in self.input_errors],
            "counts": counts,
        }
        if self.stages:  # without Stages the output is what it always was
            counts["stages"] = self.stages
            report["stagePolicies"] = [row.to_json() for row in self.stage_policies]
        return report


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
