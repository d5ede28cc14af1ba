"""Promotion windows: their selectors are validated, the fields this webhook does not own pass
untouched.

Kargo #7012 added `description` and `disabled` to `spec.promotionWindows[]` entries, and Kargo
may add more. The webhook owns only a window's `stageSelector` (validated as a policy's selector
is) and `projectSelector` (forbidden on a ProjectConfig): every other key, known to Kargo or not,
of any JSON type, is left to Kargo's CRD schema and API, with no error and no warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.kargo.projectconfig import validate_project_config
from tests.kargo.projectconfig_cases import (
    FORBIDDEN,
    INVALID,
    TYPE_INVALID,
    W0,
    Case,
    cfg,
    check,
    windows,
)
from tests.support.reviews import project_config

W = "spec.promotionWindows"

# Keys a window may carry that the webhook does not read, with values of every JSON type: Kargo's
# own (#7012's `description` and `disabled`, and the schedule) and keys no Kargo has yet.
UNOWNED: dict[str, Any] = {
    "description": "No deploys during the quarterly freeze",
    "disabled": True,
    "dtstart": "20260101T000000Z",
    "rrule": "FREQ=WEEKLY;BYDAY=SA,SU",
    "duration": "48h",
    "timeZone": "Europe/Paris",
    "owner": None,
    "priority": 7,
    "ratio": 0.5,
    "exceptions": [{"date": "20261225"}, "free text", 3],
    "x-annotations": {"nested": {"deeper": [True, False, None]}},
}


def window(**fields: Any) -> dict[str, Any]:
    return {"name": "freeze", "kind": "Deny", **UNOWNED, **fields}


def config(*windows: dict[str, Any]) -> dict[str, Any]:
    return project_config(spec={"promotionPolicies": [], "promotionWindows": list(windows)})


def verdict_of(obj: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str]]:
    verdict = validate_project_config(obj, operation="CREATE", schema="any")
    return [(e.field, e.type.reason) for e in verdict.errors], verdict.warnings.render()


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param({"name": "prod"}, id="an exact name"),
        pytest.param({"name": "regex:^prod-[a-z]+$"}, id="a regex"),
        pytest.param({"name": "glob:prod-*", "matchLabels": {"tier": "web"}}, id="glob and labels"),
        pytest.param({}, id="an empty selector"),
        pytest.param(None, id="no selector"),
    ],
)
def test_a_window_with_fields_the_webhook_does_not_own_is_admitted(
    selector: dict[str, Any] | None,
) -> None:
    fields: dict[str, Any] = {} if selector is None else {"stageSelector": selector}
    obj = config(window(**fields), window(name="weekend", disabled=False, description=""))

    assert verdict_of(obj) == ([], [])


def test_the_selector_of_such_a_window_is_still_validated() -> None:
    obj = config(
        window(stageSelector={"name": "prod"}),
        window(stageSelector={"name": "regex:(prod", "matchLabels": {"tier": "front end"}}),
        window(disabled=True, stageSelector={"name": "glob:["}),
        window(description="labels", stageSelector={"matchExpressions": [{"key": "t"}]}),
    )

    errors, warnings = verdict_of(obj)

    # Only the selectors are reported; no unowned key is ever named, whatever its value.
    assert errors == [
        (f"{W}[1].stageSelector.name", "FieldValueInvalid"),
        (f"{W}[1].stageSelector.matchLabels", "FieldValueInvalid"),
        (f"{W}[2].stageSelector.name", "FieldValueInvalid"),
        (f"{W}[3].stageSelector.matchExpressions[0].operator", "FieldValueRequired"),
    ]
    assert warnings == []


def test_a_disabled_window_is_no_excuse_for_a_project_selector() -> None:
    # `disabled` changes whether Kargo applies the window, not what the object may hold.
    obj = config(window(disabled=True, projectSelector={"name": "proj"}))

    assert verdict_of(obj) == ([(f"{W}[0].projectSelector", "FieldValueForbidden")], [])


# Promotion windows' selectors, validated as a policy's selector is.
WINDOWS = [
    pytest.param(
        Case(
            windows(
                {
                    "name": "freeze",
                    "kind": "Deny",
                    "dtstart": "20250101T000000Z",
                    "stageSelector": {"name": "prod", "matchLabels": {"tier": "web"}},
                },
                {"name": "all", "stageSelector": {}},
                {"name": "none", "stageSelector": None},
                {"name": "no selector", "duration": 5, "somethingNew": [1]},
            ),
            warnings=[],
        ),
        id="valid windows; the rest of a window passes through; no warnings",
    ),
    pytest.param(Case(cfg(promotionWindows=None)), id="promotionWindows null"),
    pytest.param(
        Case(
            cfg(promotionWindows={"stageSelector": {}}),
            [("spec.promotionWindows", TYPE_INVALID, "must be of type array")],
        ),
        id="promotionWindows is an object",
    ),
    pytest.param(
        Case(
            windows("freeze", None),
            [
                (W0, TYPE_INVALID, "object"),
                ("spec.promotionWindows[1]", TYPE_INVALID, "object"),
            ],
        ),
        id="windows that are not objects",
    ),
    pytest.param(
        Case(
            windows({"stageSelector": "prod"}),
            [(f"{W0}.stageSelector", TYPE_INVALID, "object")],
        ),
        id="window selector is a string",
    ),
    pytest.param(
        Case(
            windows({}, {"stageSelector": {"name": 5}}),
            [("spec.promotionWindows[1].stageSelector.name", TYPE_INVALID, "string")],
        ),
        id="window selector name is a number",
    ),
    pytest.param(
        Case(
            windows({"stageSelector": {"matchLabels": {"tier": "-web"}}}),
            [(f"{W0}.stageSelector.matchLabels", INVALID, "a valid label must be")],
        ),
        id="window selector with an invalid label value",
    ),
    pytest.param(
        Case(
            windows(
                {
                    "stageSelector": {
                        "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]
                    }
                }
            ),
            [(f"{W0}.stageSelector.matchExpressions[0].values", FORBIDDEN, "may not be specified")],
        ),
        id="window selector with values on Exists",
    ),
    pytest.param(
        Case(
            windows(
                {"name": "freeze", "kind": "Deny", "projectSelector": {"name": "proj"}},
                {"name": "empty", "kind": "Deny", "projectSelector": {}},
                {"name": "odd", "kind": "Deny", "projectSelector": "proj"},
            ),
            [
                (f"{W0}.projectSelector", FORBIDDEN, "on a ProjectConfig the Project is implicit"),
                ("spec.promotionWindows[1].projectSelector", FORBIDDEN, "Forbidden: only"),
                ("spec.promotionWindows[2].projectSelector", FORBIDDEN, "ClusterConfig"),
            ],
        ),
        id="projectSelector is forbidden on a ProjectConfig window, whatever its value",
    ),
    pytest.param(
        Case(
            windows(
                {
                    "name": "freeze",
                    "projectSelector": {"matchLabels": {"bad key!": "v"}},
                    "stageSelector": {"name": "regex:("},
                }
            ),
            [
                (f"{W0}.stageSelector.name", INVALID, "error parsing regexp"),
                (f"{W0}.projectSelector", FORBIDDEN, "implicit"),
            ],
        ),
        id="projectSelector is forbidden, not validated; the stageSelector still is",
    ),
    pytest.param(
        Case(windows({"name": "freeze", "projectSelector": None}), warnings=[]),
        id="projectSelector null is absent",
    ),
    pytest.param(
        Case(
            cfg(
                {
                    "stage": "prod",
                    # Kargo PR #6858 (open) moves windows under a policy: an unknown key here.
                    "promotionWindows": [{"name": "w", "projectSelector": {"name": "proj"}}],
                }
            ),
            warnings=[],
        ),
        id="windows under a policy are an unknown key and pass through",
    ),
]


@pytest.mark.parametrize("case", WINDOWS)
def test_window_selectors(case: Case) -> None:
    check(case)
