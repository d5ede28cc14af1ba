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
    errors = fp.ErrorList.of(
        fp.invalid(fp.FieldPath.root("metadata").child("name"), "other", "one"),
        fp.invalid(P.index(0), "x", "two"),
    )
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


def test_long_details_and_fields_are_cut() -> None:
    # Go's regexp errors quote the whole pattern in the detail; a label key becomes a path step.
    error = fp.invalid(P.key("k" * 100_000), "v", "error parsing regexp: `" + "x" * 100_000 + "`")
    assert len(error.field) == fp.MAX_FIELD_CHARS + 3
    assert error.field.endswith("kkk...")
    assert len(error.message) < fp.MAX_DETAIL_CHARS + 30
    assert error.message.endswith("xxx...")
    assert len(str(error)) < fp.MAX_FIELD_CHARS + fp.MAX_DETAIL_CHARS + 40


def test_short_details_are_whole() -> None:
    detail = "d" * fp.MAX_DETAIL_CHARS
    assert fp.invalid(P, "v", detail).message == f'Invalid value: "v": {detail}'


def test_error_list_keeps_the_first_errors_and_counts_the_rest() -> None:
    errors = fp.ErrorList(limit=3)
    assert not errors
    errors.extend(fp.invalid(P.index(i), "x", "bad") for i in range(10))
    errors.append(fp.required(P))

    assert [e.field for e in errors] == [f"{P}[0]", f"{P}[1]", f"{P}[2]"]
    assert (len(errors), errors.omitted, errors.total) == (3, 8, 11)
    assert errors


def test_an_error_list_of_omitted_errors_only_is_still_true() -> None:
    errors = fp.ErrorList(limit=0)
    errors.append(fp.required(P))
    assert errors
    assert len(errors) == 0


def test_a_denial_reports_at_most_the_limit_and_counts_the_rest() -> None:
    errors = fp.ErrorList()
    errors.extend(fp.invalid(P.index(i), "s", "dup") for i in range(100_000))

    status = st.invalid(group="kargo.akuity.io", kind="ProjectConfig", name="p", errors=errors)

    causes = status["details"]["causes"]
    assert len(causes) == fp.MAX_REPORTED_ERRORS + 1
    assert causes[-2]["field"] == f"{P}[{fp.MAX_REPORTED_ERRORS - 1}]"
    assert causes[-1] == {
        "reason": st.OMITTED_ERRORS_REASON,
        "message": f"{100_000 - fp.MAX_REPORTED_ERRORS} more errors not shown",
    }
    assert status["message"].endswith(f"{100_000 - fp.MAX_REPORTED_ERRORS} more errors not shown]")
    assert status["message"].count("Invalid value") == fp.MAX_REPORTED_ERRORS


def test_a_list_of_given_errors_is_bounded_too() -> None:
    errors = fp.ErrorList.of(*[fp.invalid(P.index(i), "s", "dup") for i in range(150)])
    status = st.invalid(group="", kind="ProjectConfig", name="p", errors=errors)
    assert len(status["details"]["causes"]) == fp.MAX_REPORTED_ERRORS + 1
    assert status["details"]["causes"][-1]["message"] == "50 more errors not shown"


def test_one_omitted_error_is_singular() -> None:
    errors = fp.ErrorList.of(
        *[fp.invalid(P.index(i), "s", "dup") for i in range(fp.MAX_REPORTED_ERRORS + 1)]
    )
    status = st.invalid(group="", kind="ProjectConfig", name="p", errors=errors)
    assert status["details"]["causes"][-1]["message"] == "1 more error not shown"


def test_a_long_name_is_cut_in_the_status() -> None:
    name = "n" * 100_000
    errors = fp.ErrorList.of(fp.required(P))
    invalid = st.invalid(group="g", kind="K", name=name, errors=errors)
    forbidden = st.forbidden(group="g", resource="r", name=name, detail="no", errors=errors)
    for status in (invalid, forbidden):
        assert len(status["message"]) < 400
        assert len(status["details"]["name"]) < 400
