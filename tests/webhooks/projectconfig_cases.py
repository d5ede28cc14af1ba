"""The table of ProjectConfig UPDATE cases: one truth for the webhook's ratcheting tests and the
chart's matchConditions twin (tests/commands/test_match_conditions.py).

The object in these cases is what exists wherever the webhook was installed after Kargo, or was
down under `failurePolicy: Ignore`: a ProjectConfig that Kargo accepted and that breaks a rule
only this webhook enforces (a label value with a space, which Kargo never checks). Each case says
whether the answer admits it, the causes' fields when it is denied and the fields its "not
enforced" warnings name.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.reviews import project_config

P0 = "spec.promotionPolicies[0]"
P1 = "spec.promotionPolicies[1]"
LABELS0 = f"{P0}.stageSelector.matchLabels"
W0 = "spec.promotionWindows[0]"
REFRESH = "kargo.akuity.io/refresh"
FINALIZER = "kargo.akuity.io/finalizer"


def bad_label_config() -> dict[str, Any]:
    """Accepted by Kargo, invalid here: a label value with a space."""
    return project_config([{"stageSelector": {"matchLabels": {"tier": "front end"}}}])


def with_project_selector() -> dict[str, Any]:
    obj = project_config([{"stage": "prod"}])
    obj["spec"]["promotionWindows"] = [
        {"name": "freeze", "kind": "Deny", "projectSelector": {"name": "proj"}}
    ]
    return obj


Edit = Callable[[dict[str, Any]], None]


def edited(obj: dict[str, Any], *edits: Edit) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    for edit in edits:
        edit(new)
    return new


def add_label(obj: dict[str, Any]) -> None:
    obj["metadata"].setdefault("labels", {})["team"] = "payments"


def refresh(obj: dict[str, Any]) -> None:
    obj["metadata"].setdefault("annotations", {})[REFRESH] = "2026-11-26T14:40:01Z"


def deleting(obj: dict[str, Any]) -> None:
    obj["metadata"]["deletionTimestamp"] = "2026-11-26T14:40:01Z"
    obj["metadata"]["finalizers"] = [FINALIZER]


def remove_finalizer(obj: dict[str, Any]) -> None:
    obj["metadata"]["finalizers"] = []


def set_label_value(value: str) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        obj["spec"]["promotionPolicies"][0]["stageSelector"]["matchLabels"]["tier"] = value

    return edit


def append_policy(policy: dict[str, Any]) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        obj["spec"]["promotionPolicies"].append(policy)

    return edit


def insert_policy(policy: dict[str, Any]) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        obj["spec"]["promotionPolicies"].insert(0, policy)

    return edit


@dataclass(frozen=True)
class Case:
    new: dict[str, Any]
    old: dict[str, Any] | None = None  # None: CREATE
    allowed: bool = True
    # The causes' fields when denied, in order.
    denied_fields: list[str] = field(default_factory=list)
    # Fields named by "not enforced" warnings, in order.
    unenforced: list[str] = field(default_factory=list)
    reason: str = ""


def selector_requirement(operator: str, values: list[str] | None) -> dict[str, Any]:
    requirement: dict[str, Any] = {"key": "tier", "operator": operator}
    if values is not None:
        requirement["values"] = values
    return project_config([{"stageSelector": {"matchExpressions": [requirement]}}])


def set_operator(operator: str) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        selector = obj["spec"]["promotionPolicies"][0]["stageSelector"]
        selector["matchExpressions"][0]["operator"] = operator

    return edit


EXPR0 = f"{P0}.stageSelector.matchExpressions[0]"
SELECTOR_IN = selector_requirement("In", None)
SELECTOR_EXISTS = selector_requirement("Exists", ["a"])
BAD = bad_label_config()
BAD_DELETING = edited(BAD, deleting)
WINDOWED = with_project_selector()

CASES = [
    pytest.param(
        Case(BAD, allowed=False, denied_fields=[LABELS0], reason="invalid"),
        id="CREATE is unchanged: the error denies",
    ),
    pytest.param(
        Case(edited(BAD, add_label), BAD, unenforced=[LABELS0], reason="existing-errors"),
        id="UPDATE adding a label passes; the old error is a warning",
    ),
    pytest.param(
        Case(edited(BAD, refresh), BAD, unenforced=[LABELS0], reason="existing-errors"),
        id="UPDATE with Kargo's refresh annotation passes",
    ),
    pytest.param(
        Case(copy.deepcopy(BAD), BAD, unenforced=[LABELS0], reason="existing-errors"),
        id="UPDATE changing nothing passes",
    ),
    pytest.param(
        Case(edited(BAD_DELETING, remove_finalizer), BAD_DELETING, unenforced=[LABELS0]),
        id="UPDATE removing the finalizer while deleting passes",
    ),
    pytest.param(
        Case(
            edited(BAD_DELETING, remove_finalizer, set_label_value("back end")),
            BAD_DELETING,
            allowed=False,
            denied_fields=[LABELS0],
        ),
        id="deletion is no exemption: a new bad value in an object being deleted is denied",
    ),
    pytest.param(
        Case(
            edited(BAD, deleting, set_label_value("back end")),
            BAD,
            allowed=False,
            denied_fields=[LABELS0],
        ),
        id="a deletionTimestamp only in the new object counts for nothing",
    ),
    pytest.param(
        Case(
            edited(SELECTOR_IN, set_operator("NotIn")),
            SELECTOR_IN,
            allowed=False,
            denied_fields=[f"{EXPR0}.values"],
        ),
        id="operator In to NotIn with values still missing: the same error, enforced",
    ),
    pytest.param(
        Case(
            edited(SELECTOR_EXISTS, set_operator("DoesNotExist")),
            SELECTOR_EXISTS,
            allowed=False,
            denied_fields=[f"{EXPR0}.values"],
        ),
        id="operator Exists to DoesNotExist with values still there: enforced",
    ),
    pytest.param(
        Case(
            edited(SELECTOR_IN, add_label),
            SELECTOR_IN,
            unenforced=[f"{EXPR0}.values"],
            reason="existing-errors",
        ),
        id="a missing values with the requirement unchanged: kept",
    ),
    pytest.param(
        Case(edited(BAD, set_label_value("back end")), BAD, allowed=False, denied_fields=[LABELS0]),
        id="a bad value changed into another bad value is denied",
    ),
    pytest.param(
        Case(edited(BAD, set_label_value("frontend")), BAD, reason="valid"),
        id="fixing the bad value passes without warnings",
    ),
    pytest.param(
        Case(
            edited(BAD, append_policy({"stageSelector": {"name": "glob:["}})),
            BAD,
            allowed=False,
            denied_fields=[f"{P1}.stageSelector.name"],
            unenforced=[LABELS0],
        ),
        id="a new error beside an old one: denied for the new one, the old one a warning",
    ),
    pytest.param(
        Case(
            edited(BAD, insert_policy({"stage": "qa"})),
            BAD,
            allowed=False,
            denied_fields=[f"{P1}.stageSelector.matchLabels"],
        ),
        id="a bad policy moved to another index is a new error there",
    ),
    pytest.param(
        Case(
            project_config([{"stage": "dev"}, {"stage": "dev"}]),
            project_config([{"stage": "qa"}, {"stage": "dev"}]),
            allowed=False,
            denied_fields=[P1],
        ),
        id="a duplicate created by renaming another policy is denied at the unchanged one",
    ),
    pytest.param(
        Case(
            project_config([{"stageSelector": {"name": "regex:("}}]),
            project_config([{"stage": "dev"}]),
            allowed=False,
            denied_fields=[f"{P0}.stageSelector.name"],
        ),
        id="UPDATE from valid to invalid is denied",
    ),
    pytest.param(
        Case(edited(WINDOWED, add_label), WINDOWED, unenforced=[f"{W0}.projectSelector"]),
        id="an existing projectSelector: metadata-only UPDATE passes",
    ),
    pytest.param(
        Case(
            edited(
                WINDOWED,
                lambda o: o["spec"]["promotionWindows"][0].update(
                    projectSelector={"name": "other"}
                ),
            ),
            WINDOWED,
            allowed=False,
            denied_fields=[f"{W0}.projectSelector"],
        ),
        id="an existing projectSelector changed is denied, though its error quotes no value",
    ),
    pytest.param(
        Case(
            edited(WINDOWED, lambda o: o["spec"]["promotionWindows"][0].pop("projectSelector")),
            WINDOWED,
            reason="valid",
        ),
        id="removing the projectSelector passes",
    ),
    pytest.param(
        Case(WINDOWED, allowed=False, denied_fields=[f"{W0}.projectSelector"]),
        id="CREATE with a projectSelector is denied",
    ),
]
