"""Field paths and errors render exactly like apimachinery's."""

from __future__ import annotations

import pytest

from app.k8s import field as fp
from app.k8s import status as st

P = fp.FieldPath.root("spec").child("promotionPolicies")


@pytest.mark.parametrize(
    ("error", "rendered"),
    [
        pytest.param(
            fp.invalid(P.index(1).child("stageSelector").child("name"), "regex:(", "bad"),
            'spec.promotionPolicies[1].stageSelector.name: Invalid value: "regex:(": bad',
            id="invalid string value is Go-quoted",
        ),
        pytest.param(
            fp.required(P.index(0).child("key"), "must be specified"),
            "spec.promotionPolicies[0].key: Required value: must be specified",
            id="required omits the value",
        ),
        pytest.param(
            fp.not_supported(P.index(0), "Maybe", ["In", "NotIn"]),
            'spec.promotionPolicies[0]: Unsupported value: "Maybe": '
            'supported values: "In", "NotIn"',
            id="not supported lists the values",
        ),
        pytest.param(
            fp.too_many(P.index(0).child("onPromotion"), 3, 2),
            "spec.promotionPolicies[0].onPromotion: Too many: 3: must have at most 2 items",
            id="too many",
        ),
        pytest.param(
            fp.type_invalid(P, 5, "array"),
            "spec.promotionPolicies: Invalid value: 5: must be of type array",
            id="type invalid with an integer",
        ),
        pytest.param(
            fp.invalid(P, True, "x"),
            "spec.promotionPolicies: Invalid value: true: x",
            id="booleans render as Go does",
        ),
        pytest.param(
            fp.invalid(P, None, "x"),
            "spec.promotionPolicies: Invalid value: null: x",
            id="null renders as null",
        ),
        pytest.param(
            fp.invalid(P.key("a/b"), {"a": [1]}, "x"),
            'spec.promotionPolicies[a/b]: Invalid value: {"a":[1]}: x',
            id="objects render as compact JSON",
        ),
    ],
)
def test_rendering(error: fp.FieldError, rendered: str) -> None:
    assert str(error) == rendered


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        pytest.param("dev\n", '"dev\\n"', id="newline"),
        pytest.param('a"b\\', '"a\\"b\\\\"', id="quote and backslash"),
        pytest.param("\x00\x7f", '"\\x00\\x7f"', id="control bytes"),
        pytest.param("héllo", '"héllo"', id="printable unicode kept"),
        pytest.param("\u200b", '"\\u200b"', id="zero-width space escaped"),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert fp.go_quote(text) == quoted


def test_long_values_are_cut() -> None:
    error = fp.invalid(P, "x" * 10_000, "too long")
    assert len(error.message) < 400
    assert error.message.endswith('...": too long')


def test_deep_values_render_without_crashing() -> None:
    deep: object = []
    for _ in range(5000):
        deep = [deep]
    assert fp.render_value(deep) == "<list>"


def test_invalid_status_aggregates_like_the_api_server() -> None:
    errors = [
        fp.invalid(fp.FieldPath.root("metadata").child("name"), "other", "one"),
        fp.invalid(P.index(0), "x", "two"),
    ]
    status = st.invalid(group="kargo.akuity.io", kind="ProjectConfig", name="other", errors=errors)
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'ProjectConfig.kargo.akuity.io "other" is invalid: '
        '[metadata.name: Invalid value: "other": one, '
        'spec.promotionPolicies[0]: Invalid value: "x": two]'
    )
    assert [c["field"] for c in status["details"]["causes"]] == [
        "metadata.name",
        "spec.promotionPolicies[0]",
    ]
    assert status["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "other": one',
        "field": "metadata.name",
    }
