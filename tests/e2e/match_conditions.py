"""A webhook's `matchConditions`, evaluated as kube-apiserver evaluates them.

k8s.io/apiserver `pkg/admission/plugin/webhook/matchconditions/matcher.go`, `matcher.Match`,
called from `generic/webhook.go`, `Webhook.ShouldCallHook`, after the rules, namespaceSelector
and objectSelector matched:

- every condition is evaluated; the first that is `false` skips the webhook, even when another
  one failed to evaluate;
- otherwise, any evaluation error: under `failurePolicy: Fail` the request is rejected with
  `apierrors.NewForbidden(<resource>.<group>, <name>, <errors>)`, 403 (the errors joined as
  `utilerrors.NewAggregate` does: one as it is, several as `[a, b]`); under `Ignore` the
  webhook is skipped (no failed-open annotation: nothing was called);
- all `true`: the webhook is called.

The variables (`plugin/cel/activation.go`, `condition.go` `CreateAdmissionRequest`): `object`,
`oldObject` (null on CREATE), and `request`, the AdmissionRequest without `object`,
`oldObject`, and with an empty `uid`; fields Go omits when empty (`name`, `namespace`,
`userInfo.uid`, `userInfo.groups`) are absent, so `request.name` on a nameless request is an
error as in cel-go. `authorizer` is not provided: a condition naming it raises `Unsupported`.
An evaluation error reads `expression '<expression>' resulted in error: <detail>`
(`activation.go`, `Evaluate`).

The engine is common-expression-language (module `cel`, Python bindings of the Rust CEL
interpreter), the one tests/commands/test_policy.py checks the ValidatingAdmissionPolicy with.
Where it differs from cel-go, the API server's engine:

- no optional syntax (`object.?spec`, `m[?k]`) and none of Kubernetes' CEL libraries
  (`lowerAscii`, `url`, `quantity`, `authorizer`, ...): the expression fails to compile or names
  an undefined function, and this raises `Unsupported`, never a silent skip or a guessed result;
- it is not type-checked: cel-go refuses at configuration time an expression whose type is not
  bool; here a non-bool result raises `Unsupported`;
- a missing key reads `no such key: <key>` as cel-go's; other evaluation errors carry the
  engine's own words (`No such overload ...`), so tests assert the prefix and the 403, not those
  words;
- no cost budget (`RuntimeCELCostBudgetMatchConditions`).

Checked equal to cel-go for the forms the chart's conditions use: `==`/`!=` between strings,
maps and `null` (a map is never equal to `null`), `in` on a map's keys and on a list, `has()`
on a present or absent field (on a `null` operand it is an error, as in cel-go), index of a map
(a missing key is an error), and `&&`/`||` absorbing an error on either side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cel

from tests.e2e.errors import Unsupported

_AUTHORIZER: Final = re.compile(r"\bauthorizer\b")


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    expression: str
    program: Any  # cel.Program


@dataclass(frozen=True, slots=True)
class Outcome:
    """`MatchResult`: call the webhook, skip it, or reject the request with `error`."""

    matches: bool
    error: str = ""


def compile_conditions(raw: Sequence[Mapping[str, Any]], where: str) -> tuple[Condition, ...]:
    """Compile once, when the configuration is read; anything the engine cannot take raises."""
    conditions = []
    for item in raw:
        name, expression = str(item["name"]), str(item["expression"])
        if _AUTHORIZER.search(expression):
            raise Unsupported(f"{where} matchCondition {name}: `authorizer` is not modelled")
        try:
            program = cel.compile(expression)
        except Exception as exc:  # the engine reports every compile failure as its own type
            raise Unsupported(f"{where} matchCondition {name}: {exc}") from None
        conditions.append(Condition(name, expression, program))
    return tuple(conditions)


def admission_request(
    *,
    kind: Mapping[str, str],
    resource: Mapping[str, str],
    request_kind: Mapping[str, str],
    request_resource: Mapping[str, str],
    name: str,
    namespace: str,
    operation: str,
    username: str,
    user_uid: str,
    groups: Sequence[str],
    dry_run: bool,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """`CreateAdmissionRequest` as cel-go sees it (Go's `omitempty` fields absent when empty)."""
    user: dict[str, Any] = {}
    if username:
        user["username"] = username
    if user_uid:
        user["uid"] = user_uid
    if groups:
        user["groups"] = list(groups)
    request: dict[str, Any] = {
        "uid": "",
        "kind": dict(kind),
        "resource": dict(resource),
        "requestKind": dict(request_kind),
        "requestResource": dict(request_resource),
        "operation": operation,
        "userInfo": user,
        "dryRun": dry_run,
        "options": dict(options),
    }
    if name:
        request["name"] = name
    if namespace:
        request["namespace"] = namespace
    return request


def match(
    conditions: Sequence[Condition],
    *,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    failure_policy: str,
) -> Outcome:
    """`matcher.Match`: any false skips; else an error fails by the policy; else call."""
    activation = {"object": obj, "oldObject": old, "request": request}
    errors: list[str] = []
    for condition in conditions:
        try:
            value = condition.program.execute(activation)
        except KeyError as exc:
            errors.append(_resulted(condition, f"no such key: {exc.args[0]}"))
            continue
        except (TypeError, ValueError, IndexError, ZeroDivisionError, OverflowError) as exc:
            errors.append(_resulted(condition, str(exc)))
            continue
        except Exception as exc:  # undefined function or variable: not cel-go's behaviour
            raise Unsupported(f"matchCondition {condition.name}: {exc}") from None
        if not isinstance(value, bool):
            raise Unsupported(f"matchCondition {condition.name}: result {value!r} is not a bool")
        if value is False:
            return Outcome(matches=False)
    if not errors:
        return Outcome(matches=True)
    if failure_policy == "Fail":
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return Outcome(matches=False, error=joined)
    return Outcome(matches=False)


def _resulted(condition: Condition, detail: str) -> str:
    return f"expression '{condition.expression}' resulted in error: {detail}"
