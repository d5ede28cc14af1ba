"""The CEL `matchConditions` that keep ordinary writes away from the webhooks.

The API server calls a webhook only when all of its `matchConditions` are true
(k8s.io/apiserver `pkg/admission/plugin/webhook/matchconditions/matcher.go`; beta and on by
default in Kubernetes 1.28 and 1.29, GA in 1.30). The webhooks act on a tiny share of the writes
they match, and every other call is pure risk: under `failurePolicy: Fail` an outage refuses it,
under `Ignore` an outage opens the guard. These conditions send a webhook exactly the writes it
may act on, so an outage refuses only what the webhook would refuse or rewrite anyway:

- the Promotion webhooks (mutating and validating, both modes): a user who is not one of the
  controller usernames, whose write sets (CREATE), or adds, changes or removes (UPDATE)
  `kargo.akuity.io/rollback`. The controller's own writes never reach the webhook: its
  rollback Promotions go through during the very outage that calls for them. The one answer
  lost is a warning the webhook gives the controller for a value other than `"true"`: a
  warning to a controller is a log line nobody reads, and it is not worth a call on the path
  that must keep working;
- the ProjectConfig webhook: every CREATE (the name rule and the whole spec), and an UPDATE whose
  `spec` differs from the old object's (absent and present differ). A write that leaves the spec
  as it was is admitted by the webhook whatever it holds (ratcheting), so metadata-only writes
  (labels, Kargo's refresh annotation, finalizers while deleting) never reach it.

Each expression is total: it never fails to evaluate on an object the API server can send
(annotations absent, `null` or `{}`; `oldObject` null on CREATE; `spec` absent), since an error
would hand the request to `failurePolicy`. Values are read only behind `has(...)`, `!= null`
and `in`, and CEL's `&&`/`||` absorb an error on the side they do not need. The chart renders the
same conditions (`templates/_helpers.tpl`); tests/chart compares the two, and
tests/commands/test_match_conditions.py evaluates them against the webhook's own decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from app.kargo.constants import ROLLBACK_ANNOTATION

MatchCondition = dict[str, str]

# The names of the conditions the chart renders; a user's own condition may not reuse them (the
# API server refuses duplicate names within one webhook).
NOT_A_CONTROLLER: Final = "not-a-kargo-controller"
ANNOTATION_CHANGES: Final = "rollback-annotation-changes"
CREATE_OR_SPEC_CHANGES: Final = "create-or-spec-changes"


def cel_string(text: str) -> str:
    """A CEL string literal for `text`, single-quoted so it reads naturally inside YAML.

    Backslash and quote are escaped, and so is every control character (CEL forbids a raw line
    break in a quoted string), so a username can never end the literal early.
    """
    out = ["'"]
    for ch in text:
        if ch in ("\\", "'"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def cel_string_list(texts: Sequence[str]) -> str:
    """A CEL list literal of `texts`, duplicates dropped, order kept."""
    return "[" + ", ".join(cel_string(t) for t in dict.fromkeys(texts)) + "]"


def _has_key(obj: str, key: str) -> str:
    """`key` is among `obj`'s annotations; false (never an error) when the map is absent or null."""
    annotations = f"{obj}.metadata.annotations"
    return f"has({annotations}) && {annotations} != null && {key} in {annotations}"


def annotation_changes_expression() -> str:
    """The write sets, adds, changes or removes the rollback annotation.

    On CREATE `oldObject` is null, so "changes" is "present". The values are compared only when
    the key is in both maps; a difference in presence already answers.
    """
    key = cel_string(ROLLBACK_ANNOTATION)
    new = _has_key("object", key)
    old = f"oldObject != null && {_has_key('oldObject', key)}"
    values_differ = f"object.metadata.annotations[{key}] != oldObject.metadata.annotations[{key}]"
    return f"({new}) != ({old}) || (({new}) && ({old}) && {values_differ})"


def not_a_controller_expression(usernames: Sequence[str]) -> str:
    """The user is none of `usernames`, compared byte for byte as the webhook compares them."""
    return f"!(request.userInfo.username in {cel_string_list(usernames)})"


def promotion_match_conditions(usernames: Sequence[str]) -> list[MatchCondition]:
    """The Promotion webhooks' conditions (and the fallback policy's): both must hold."""
    return [
        {"name": NOT_A_CONTROLLER, "expression": not_a_controller_expression(usernames)},
        {"name": ANNOTATION_CHANGES, "expression": annotation_changes_expression()},
    ]


def project_config_match_conditions() -> list[MatchCondition]:
    """The ProjectConfig webhook's condition: CREATE, or an UPDATE that changes the spec."""
    spec_differs = (
        "has(object.spec) != has(oldObject.spec) || "
        "(has(object.spec) && object.spec != oldObject.spec)"
    )
    return [
        {
            "name": CREATE_OR_SPEC_CHANGES,
            "expression": f"oldObject == null || {spec_differs}",
        }
    ]
