"""The chart's matchConditions: the text of `app.commands.match_conditions`, on every webhook.

tests/commands/test_match_conditions.py proves these expressions safe against the webhook's own
decisions; here the rendered chart must carry exactly them, for any usernames (escaping
included), in both modes, with the user's own conditions after them, and none when turned off.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.commands.match_conditions import (
    project_config_match_conditions,
    promotion_match_conditions,
)
from app.kargo.constants import DEFAULT_CONTROLLER_USERNAME
from tests.chart.helm import render, render_error, webhooks

PROMOTION_HOOKS = (
    "promotions.mutate.kargo-rollback-webhook",
    "promotions.validate.kargo-rollback-webhook",
)
PROJECT_CONFIG_HOOK = "projectconfigs.validate.kargo-rollback-webhook"
USER_CONDITION = {"name": "not-a-node", "expression": "!request.userInfo.username.startsWith('x')"}


def _conditions(values: dict[str, Any]) -> dict[str, Any]:
    return {hook["name"]: hook.get("matchConditions") for hook in webhooks(render(values))}


@pytest.mark.parametrize(
    ("values", "usernames"),
    [
        pytest.param({}, [DEFAULT_CONTROLLER_USERNAME], id="default username"),
        pytest.param(
            {"kargo": {"namespace": "ops"}},
            ["system:serviceaccount:ops:kargo-controller"],
            id="username from kargo.namespace",
        ),
        pytest.param(
            {
                "controller": {
                    "usernames": ["a:b", "it's a \\ name", "line\nbreak", "tab\there\x7f"]
                }
            },
            ["a:b", "it's a \\ name", "line\nbreak", "tab\there\x7f"],
            id="usernames that need escaping in a CEL literal",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["strip", "deny"])
def test_every_webhook_carries_the_conditions_of_its_resource(
    values: dict[str, Any], usernames: list[str], mode: str
) -> None:
    conditions = _conditions({**values, "rollbackAnnotation": {"mode": mode}})
    expected_hooks = {*PROMOTION_HOOKS, PROJECT_CONFIG_HOOK}
    if mode == "deny":
        expected_hooks.discard(PROMOTION_HOOKS[0])
    assert set(conditions) == expected_hooks
    for name, got in conditions.items():
        want = (
            project_config_match_conditions()
            if name == PROJECT_CONFIG_HOOK
            else promotion_match_conditions(usernames)
        )
        assert got == want


def test_the_users_conditions_come_after_the_charts() -> None:
    conditions = _conditions({"matchConditions": [USER_CONDITION]})
    for name, got in conditions.items():
        assert got[-1] == USER_CONDITION
        assert len(got) == (2 if name == PROJECT_CONFIG_HOOK else 3)


def test_turned_off_only_the_users_conditions_remain() -> None:
    assert all(c is None for c in _conditions({"defaultMatchConditions": False}).values())
    got = _conditions({"defaultMatchConditions": False, "matchConditions": [USER_CONDITION]})
    assert all(c == [USER_CONDITION] for c in got.values())


def test_a_users_condition_may_not_take_a_charts_name() -> None:
    taken = {"name": "rollback-annotation-changes", "expression": "true"}
    error = render_error({"matchConditions": [taken]})
    assert 'the name "rollback-annotation-changes" is taken' in error
    # Without the chart's conditions the name is free.
    assert _conditions({"defaultMatchConditions": False, "matchConditions": [taken]})


def test_at_most_64_conditions_per_webhook() -> None:
    many = [{"name": f"c{i}", "expression": "true"} for i in range(63)]
    error = render_error({"matchConditions": many})
    assert "over the API server's 64 per webhook" in error
    assert _conditions({"matchConditions": many[:62]})
