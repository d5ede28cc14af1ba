"""Promotion window fields this webhook does not own pass untouched.

Kargo #7012 added `description` and `disabled` to `spec.promotionWindows[]` entries, and Kargo
may add more. The webhook owns only a window's `stageSelector` (validated as a policy's selector
is) and `projectSelector` (forbidden on a ProjectConfig): every other key, known to Kargo or not,
of any JSON type, is left to Kargo's CRD schema and API, with no error and no warning.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.kargo.projectconfig import validate_project_config
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
