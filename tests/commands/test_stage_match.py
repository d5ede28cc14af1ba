"""Stage selectors matched as Kargo matches them: names (exact, glob, regex) and label selectors.

Label selectors follow apimachinery's `labels.Selector.Matches` (pkg/labels/selector.go:
`Requirement.Matches`): `In` needs the key with a listed value, `NotIn` holds when the key is
absent, `Exists`/`DoesNotExist` look at the key only; `matchLabels` entries are `In` with one
value; an empty selector selects everything.
"""

from __future__ import annotations

import pytest

from app.commands.stage_match import (
    is_anchored,
    labels_match,
    name_matches,
    regex_search,
    unanchored_example,
)

LABELS = {"tier": "canary", "region": "eu"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param({}, True, id="empty selects everything"),
        pytest.param({"matchLabels": {}}, True, id="empty matchLabels selects everything"),
        pytest.param({"matchLabels": {"tier": "canary"}}, True, id="matchLabels equal"),
        pytest.param({"matchLabels": {"tier": "stable"}}, False, id="matchLabels differ"),
        pytest.param({"matchLabels": {"team": "web"}}, False, id="matchLabels missing key"),
        pytest.param(
            {"matchLabels": {"tier": "canary", "region": "us"}}, False, id="every label must hold"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu", "us"]}]},
            True,
            id="In",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["web"]}]},
            False,
            id="In without the key",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["web"]}]},
            True,
            id="NotIn without the key holds",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["eu"]}]},
            False,
            id="NotIn with a listed value",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True, id="Exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            False,
            id="DoesNotExist",
        ),
        pytest.param(
            {
                "matchLabels": {"tier": "canary"},
                "matchExpressions": [{"key": "region", "operator": "In", "values": ["us"]}],
            },
            False,
            id="labels and expressions must both hold",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "tier", "operator": "Like"}]}, None, id="bad operator"
        ),
        pytest.param({"matchLabels": ["tier"]}, None, id="malformed matchLabels"),
    ],
)
def test_label_selectors(selector: dict[str, object], expected: bool | None) -> None:
    assert labels_match(selector, LABELS) is expected


@pytest.mark.parametrize(
    ("selector", "name", "expected"),
    [
        pytest.param("prod", "prod", True, id="exact"),
        pytest.param("prod", "prod-eu", False, id="exact is whole"),
        pytest.param("glob:prod-*", "prod-eu", True, id="glob"),
        pytest.param("glob:prod-*", "nonprod-eu", False, id="glob is whole"),
        pytest.param("glob:{dev,qa}-*", "qa-1", True, id="glob alternatives"),
        pytest.param("regex:prod", "nonprod", True, id="regex searches"),
        pytest.param("regexp:prod", "prod-old", True, id="regexp is regex"),
        pytest.param("regex:^prod$", "nonprod", False, id="anchored regex"),
        pytest.param("regex:^prod$", "prod", True, id="anchored regex matches whole"),
        pytest.param("other:prod", "other:prod", True, id="any other prefix is an exact name"),
    ],
)
def test_names(selector: str, name: str, expected: bool) -> None:
    assert name_matches(selector, name) is expected


def test_a_regex_re2_cannot_compile_is_unknown_not_false() -> None:
    assert regex_search("(", "x") is None
    assert name_matches("regex:(", "x") is None


@pytest.mark.parametrize(
    ("expression", "anchored"),
    [
        ("^prod$", True),
        ("\\Aprod\\z", True),
        ("prod", False),
        ("^prod", False),
        ("prod$", False),
        ("^prod\\$", False),  # an escaped dollar is a literal
        ("^prod\\\\$", True),  # an escaped backslash, then the anchor
    ],
)
def test_is_anchored(expression: str, anchored: bool) -> None:
    assert is_anchored(expression) is anchored


@pytest.mark.parametrize(
    ("expression", "stages", "expected"),
    [
        pytest.param("prod", [], ("prod", "nonprod"), id="a word inside another"),
        pytest.param("^prod", [], ("prod", "prod-old"), id="start anchor only"),
        pytest.param("prod$", [], ("prod", "nonprod"), id="end anchor only"),
        pytest.param("prod\\.eu", [], ("prod.eu", "nonprod.eu"), id="escaped dot"),
        pytest.param(
            "prod-(eu|us)", ["prod-eu-1"], ("prod-eu", "prod-eu-1"), id="a Stage it matches in part"
        ),
        pytest.param("^a|b$", ["b"], ("b", "nonb"), id="anchors that bind one alternative only"),
        pytest.param("^prod$", ["prod"], None, id="anchored: no example"),
        pytest.param("^perf-[a-z]+$", ["perf-eu"], None, id="longer whole matches are no example"),
        pytest.param("(x|y)+z", [], None, id="nothing to build from: generic wording"),
    ],
)
def test_unanchored_examples_are_real(
    expression: str, stages: list[str], expected: tuple[str, str] | None
) -> None:
    example = unanchored_example(expression, stages)
    assert example == expected
    if example is not None:
        base, longer = example
        # The claim the warning makes, checked again: it matches the longer name as Kargo does,
        # though that name is not a whole match.
        assert name_matches(f"regex:{expression}", longer) is True
        assert regex_search(f"\\A(?:{expression})\\z", longer) is False
        assert regex_search(f"\\A(?:{expression})\\z", base) is True
