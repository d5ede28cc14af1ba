"""Which promotion policy governs each Stage, and what in the policies is likely a mistake.

Kargo picks a Stage's policy in `findMatchingPromotionPolicy` (akuity/kargo,
pkg/api/auto_promotion.go): the Project's ProjectConfig is the one named like the Stage's
namespace; its `spec.promotionPolicies` are taken in order; a policy without `stageSelector`
selects by its `stage` field as an exact name; a policy matches when its name pattern (if not
empty) and its label selector (if any) both match, and the first match wins, even when a later
policy matches too. `app.commands.stage_match` decides each match as Kargo's `pkg/pattern` and
apimachinery's label selectors do.

The warnings are what Kargo users trip over (a policy naming a Stage that does not exist, a
policy silently shadowed by an earlier one, `regex:prod` also matching `nonprod`). They are only
as good as the input: a Project is explained only when its ProjectConfig and at least one of its
Stages are among the inputs, and "no such Stage" means "not in these files".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from app.commands.report import StagePolicy
from app.commands.stage_match import (
    is_anchored,
    labels_match,
    name_matches,
    pattern_kind,
    regex_body,
    unanchored_example,
)
from app.k8s.field import FieldPath, go_quote

Ref = TypeVar("Ref")  # where a manifest is, for the caller's findings

# The reasons findings carry: one per kind of finding (SARIF rule ids derive from them).
STAGE_NOT_FOUND: Final = "StageNotFound"
POLICY_MATCHES_NO_STAGE: Final = "PolicyMatchesNoStage"
POLICY_SHADOWED: Final = "PolicyShadowed"
UNANCHORED_REGEX: Final = "UnanchoredRegex"
MATCH_NOT_EVALUATED: Final = "MatchNotEvaluated"

_POLICIES: Final = FieldPath.root("spec").child("promotionPolicies")


@dataclass(frozen=True, slots=True)
class Stage(Generic[Ref]):
    """A Stage manifest: its Project (namespace), name and labels, and where it is."""

    project: str
    name: str
    labels: Mapping[str, str]
    file: str
    line: int | None
    ref: Ref


@dataclass(frozen=True, slots=True)
class Policies(Generic[Ref]):
    """A ProjectConfig's Project and its decoded `spec.promotionPolicies`."""

    project: str
    policies: Sequence[object]
    ref: Ref


@dataclass(frozen=True, slots=True)
class PolicyWarning(Generic[Ref]):
    """A warning about a policy, at a field of its ProjectConfig."""

    ref: Ref
    path: FieldPath
    message: str
    reason: str


@dataclass(slots=True)
class Explanation(Generic[Ref]):
    rows: list[StagePolicy] = field(default_factory=list)
    warnings: list[PolicyWarning[Ref]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Policy:
    index: int
    path: FieldPath  # the field that names the Stages: `.stage` or `.stageSelector.name`
    name: str  # the name selector, "" for none
    selector: Mapping[str, object] | None  # the label selector part of stageSelector
    auto_promotion: bool

    def describe(self) -> str:
        parts = [self.name] if self.name else []
        if self.selector and (
            self.selector.get("matchLabels") or self.selector.get("matchExpressions")
        ):
            parts.append("labels")
        return " + ".join(parts) or "every Stage"


def explain(configs: Sequence[Policies[Ref]], stages: Sequence[Stage[Ref]]) -> Explanation[Ref]:
    """The Stage → policy table and the policy warnings, per Project found in both inputs."""
    result: Explanation[Ref] = Explanation()
    by_project: dict[str, list[Stage[Ref]]] = {}
    for stage in stages:
        by_project.setdefault(stage.project, []).append(stage)
    explained: set[str] = set()
    for config in configs:
        project_stages = by_project.get(config.project)
        if not project_stages or config.project in explained:
            continue
        explained.add(config.project)
        _explain_project(config, project_stages, result)
    for stage in stages:
        if stage.project not in explained:
            # No ProjectConfig for its Project among the inputs: nothing to explain it by.
            result.rows.append(_row(stage, None, []))
    result.rows.sort(key=lambda row: (row.project, row.stage))
    return result


def _explain_project(
    config: Policies[Ref], stages: list[Stage[Ref]], result: Explanation[Ref]
) -> None:
    policies = [p for i, raw in enumerate(config.policies) if (p := _policy(i, raw)) is not None]
    names = {stage.name for stage in stages}
    matched_by: dict[int, list[str]] = {p.index: [] for p in policies}
    shadowed: dict[tuple[int, int], list[str]] = {}  # (later, first) -> Stage names
    unknown: set[int] = set()
    for stage in stages:
        matching: list[_Policy] = []
        for policy in policies:
            verdict = _matches(policy, stage)
            if verdict is None:
                unknown.add(policy.index)
            elif verdict:
                matching.append(policy)
                matched_by[policy.index].append(stage.name)
        result.rows.append(_row(stage, matching[0] if matching else None, matching[1:]))
        for other in matching[1:]:
            shadowed.setdefault((other.index, matching[0].index), []).append(stage.name)

    def warn(policy: _Policy, message: str, reason: str) -> None:
        result.warnings.append(PolicyWarning(config.ref, policy.path, message, reason))

    for policy in policies:
        kind = pattern_kind(policy.name) if policy.name else ""
        if policy.index in unknown:
            warn(
                policy,
                f"{go_quote(policy.name)} cannot be evaluated here (Go regexp syntax that RE2 "
                "does not compile, or a glob with too many {a,b} alternatives to try), so the "
                "Stages it selects are not shown",
                MATCH_NOT_EVALUATED,
            )
        elif kind == "exact" and policy.name not in names:
            warn(
                policy,
                f"no Stage named {go_quote(policy.name)} in Project {go_quote(config.project)} "
                f"among the inputs (Stages: {_names(sorted(names))}); this policy applies to none",
                STAGE_NOT_FOUND,
            )
        elif not matched_by[policy.index]:
            warn(
                policy,
                f"{policy.describe()} matches no Stage of Project {go_quote(config.project)} "
                "among the inputs; this policy applies to none",
                POLICY_MATCHES_NO_STAGE,
            )
        if kind == "regex" and policy.index not in unknown:
            _check_anchors(policy, matched_by[policy.index], warn)
    for (later, first), stage_names in sorted(shadowed.items()):
        target = next(p for p in policies if p.index == later)
        warn(
            target,
            f"shadowed for {_stages(stage_names)} by {_POLICIES.index(first)}, which matches "
            "first: Kargo applies the first matching policy only",
            POLICY_SHADOWED,
        )


def _check_anchors(
    policy: _Policy, matched: list[str], warn: Callable[[_Policy, str, str], None]
) -> None:
    expression = regex_body(policy.name)
    example = unanchored_example(expression, matched)
    if is_anchored(expression) and example is None:
        return
    if example is not None:
        base, longer = example
        message = (
            f"{go_quote(policy.name)} is searched for anywhere in a Stage's name (Go's "
            f"regexp.MatchString), so besides {go_quote(base)} it also matches "
            f"{go_quote(longer)}; anchor it as ^…$ to match whole names only"
        )
    else:
        message = (
            f"{go_quote(policy.name)} has no ^…$ anchors: it is searched for anywhere in a Stage's "
            "name (Go's regexp.MatchString), so it also matches longer names that contain a match"
        )
    warn(policy, message, UNANCHORED_REGEX)


def _policy(index: int, raw: object) -> _Policy | None:
    """A policy as Kargo reads it; None for one too malformed to explain (validation says why)."""
    if not isinstance(raw, dict):
        return None
    path = _POLICIES.index(index)
    auto = raw.get("autoPromotionEnabled") is True
    selector = raw.get("stageSelector")
    if selector is None:
        # No stageSelector: Kargo uses `stage` as the name pattern (backward compatibility).
        stage = raw.get("stage")
        name = stage if isinstance(stage, str) else ""
        return _Policy(index, path.child("stage"), name, None, auto)
    if not isinstance(selector, dict):
        return None
    raw_name = selector.get("name")
    labels = {k: v for k, v in selector.items() if k in ("matchLabels", "matchExpressions")}
    return _Policy(
        index,
        path.child("stageSelector").child("name") if raw_name else path.child("stageSelector"),
        raw_name if isinstance(raw_name, str) else "",
        labels or None,
        auto,
    )


def _matches(policy: _Policy, stage: Stage[Ref]) -> bool | None:
    if policy.name:
        by_name = name_matches(policy.name, stage.name)
        if by_name is not True:
            return by_name
    if policy.selector is not None:
        return labels_match(policy.selector, stage.labels)
    return True


def _row(stage: Stage[Ref], policy: _Policy | None, later: list[_Policy]) -> StagePolicy:
    return StagePolicy(
        project=stage.project,
        stage=stage.name,
        file=stage.file,
        line=stage.line,
        policy=None if policy is None else policy.index,
        selector="" if policy is None else policy.describe(),
        auto_promotion=policy is not None and policy.auto_promotion,
        shadowed=tuple(p.index for p in later),
    )


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _stages(names: list[str]) -> str:
    return ("Stage " if len(names) == 1 else "Stages ") + _names(names)
