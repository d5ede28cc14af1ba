"""The chart's ValidatingAdmissionPolicy is `kargo-rollback-webhook policy`, object for object."""

from __future__ import annotations

from typing import Any

import pytest

from app.commands.policy import build_policy
from tests.chart.helm import FULLNAME, of_kind, one, render

POLICY_NAME = f"{FULLNAME}-rollback-annotation"


@pytest.mark.parametrize(
    ("values", "usernames"),
    [
        pytest.param({}, ["system:serviceaccount:kargo:kargo-controller"], id="default username"),
        pytest.param(
            {"kargo": {"namespace": "ops"}},
            ["system:serviceaccount:ops:kargo-controller"],
            id="username from kargo.namespace",
        ),
        pytest.param(
            {"controller": {"usernames": ["a:b", "c:d"]}},
            ["a:b", "c:d"],
            id="listed usernames in order",
        ),
        pytest.param(
            {"controller": {"usernames": ["it's a \\ name", "line\nbreak"]}},
            ["it's a \\ name", "line\nbreak"],
            id="usernames that need escaping in a CEL literal",
        ),
    ],
)
@pytest.mark.parametrize("match_conditions", [True, False])
def test_chart_policy_equals_the_policy_command(
    values: dict[str, Any], usernames: list[str], match_conditions: bool
) -> None:
    manifests = render(
        {
            **values,
            "validatingAdmissionPolicy": {"enabled": True},
            "defaultMatchConditions": match_conditions,
        }
    )
    expected = build_policy(usernames, name=POLICY_NAME, match_conditions=match_conditions)
    for kind, want in zip(
        ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"), expected, strict=True
    ):
        got = one(manifests, kind)
        assert got["apiVersion"] == want["apiVersion"]
        assert got["metadata"]["name"] == want["metadata"]["name"]
        assert got["spec"] == want["spec"]


def test_policy_is_off_by_default() -> None:
    manifests = render({})
    assert not of_kind(manifests, "ValidatingAdmissionPolicy")
    assert not of_kind(manifests, "ValidatingAdmissionPolicyBinding")
