"""ProjectConfig validation: the two autoRollback shapes Kargo has shipped, and the warnings.

The seed commit's shape (c7adbbd, `onFailedPromotions`) and upstream's (`onPromotion`,
`onVerification`), each alone or either under `schema="any"`; the warnings for selectors that
select every Stage and for autoRollback on label selectors.
"""

import pytest

from tests.kargo.projectconfig_cases import (
    AR,
    DUPLICATE,
    INVALID,
    NOT_SUPPORTED,
    P0,
    P2,
    TOO_MANY,
    TYPE_INVALID,
    Case,
    cfg,
    check,
    rollback,
)

AUTO_ROLLBACK = [
    pytest.param(Case(rollback(None)), id="null autoRollback is disabled"),
    pytest.param(Case(cfg({"stage": "dev"})), id="absent autoRollback is disabled"),
    pytest.param(
        Case(rollback("yes"), [(AR, TYPE_INVALID, "must be of type object")]),
        id="autoRollback is a string",
    ),
    pytest.param(Case(rollback(True), [(AR, TYPE_INVALID, "object")]), id="autoRollback true"),
    pytest.param(
        Case(rollback(["Failed"]), [(AR, TYPE_INVALID, "object")]), id="autoRollback is a list"
    ),
    # seed shape
    pytest.param(Case(rollback({}), schema="seed"), id="seed: empty object rolls back"),
    pytest.param(Case(rollback({}), schema="upstream"), id="upstream: empty object"),
    pytest.param(Case(rollback({}), schema="any"), id="any: empty object"),
    pytest.param(
        Case(rollback({"onFailedPromotions": True}), schema="seed"), id="seed: boolean true"
    ),
    pytest.param(Case(rollback({"onFailedPromotions": False}), schema="any"), id="any: seed shape"),
    pytest.param(
        Case(rollback({"onFailedPromotions": None}), schema="seed"), id="seed: null is absent"
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": "true"}),
            [(f"{AR}.onFailedPromotions", TYPE_INVALID, "must be of type boolean")],
            schema="seed",
        ),
        id="seed: string true",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": 1}),
            [(f"{AR}.onFailedPromotions", TYPE_INVALID, "boolean")],
        ),
        id="any: number for the seed boolean",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": True}),
            [(f"{AR}.onFailedPromotions", NOT_SUPPORTED, '"onPromotion", "onVerification"')],
            schema="upstream",
        ),
        id="upstream: seed shape rejected",
    ),
    # upstream shape
    pytest.param(
        Case(
            rollback({"onPromotion": ["Failed", "Errored"], "onVerification": ["Failed", "Error"]}),
            schema="upstream",
        ),
        id="upstream: both lists in full",
    ),
    pytest.param(
        Case(rollback({"onPromotion": ["Errored"], "onVerification": []}), schema="any"),
        id="any: upstream shape",
    ),
    pytest.param(
        Case(rollback({"onPromotion": None, "onVerification": None}), schema="upstream"),
        id="upstream: null lists are absent",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["Failed"], "onVerification": ["Error"]}),
            [
                (f"{AR}.onPromotion", NOT_SUPPORTED, 'supported values: "onFailedPromotions"'),
                (f"{AR}.onVerification", NOT_SUPPORTED, '"onFailedPromotions"'),
            ],
            schema="seed",
        ),
        id="seed: upstream shape rejected",
    ),
    pytest.param(
        Case(rollback({"onPromotion": None}), schema="seed"),
        id="seed: null upstream key is absent",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["bogus"]}),
            [(f"{AR}.onPromotion", NOT_SUPPORTED, "")],
            schema="seed",
        ),
        id="seed: values of an unsupported key are not judged",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": "Failed"}),
            [(f"{AR}.onPromotion", TYPE_INVALID, "must be of type array")],
        ),
        id="onPromotion is a string",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": {"Failed": True}}),
            [(f"{AR}.onVerification", TYPE_INVALID, "array")],
        ),
        id="onVerification is an object",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["failed"]}),
            [(f"{AR}.onPromotion[0]", INVALID, "onPromotion[0] must be Failed or Errored")],
        ),
        id="onPromotion lowercase failed",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["Failed", " Errored"]}),
            [(f"{AR}.onPromotion[1]", INVALID, "onPromotion[1] must be Failed or Errored")],
        ),
        id="onPromotion leading space",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["Error"]}),
            [(f"{AR}.onPromotion[0]", INVALID, "must be Failed or Errored")],
        ),
        id="onPromotion takes Errored, not Error",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": ["Errored"]}),
            [(f"{AR}.onVerification[0]", INVALID, "onVerification[0] must be Failed or Error")],
        ),
        id="onVerification takes Error, not Errored",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": ["failed"]}),
            [(f"{AR}.onVerification[0]", INVALID, "must be Failed or Error")],
        ),
        id="onVerification lowercase failed",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": ["Error", " Failed"]}),
            [(f"{AR}.onVerification[1]", INVALID, "onVerification[1] must be Failed or Error")],
        ),
        id="onVerification leading space",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": ["Failed\n"]}),
            [(f"{AR}.onVerification[0]", INVALID, "")],
        ),
        id="onVerification trailing newline",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["Failed", "Failed"]}),
            [(f"{AR}.onPromotion[1]", DUPLICATE, "")],
        ),
        id="duplicate phase",
    ),
    pytest.param(
        Case(
            rollback({"onPromotion": ["Failed", "Errored", "Failed"]}),
            [
                (f"{AR}.onPromotion", TOO_MANY, "must have at most 2 items"),
                (f"{AR}.onPromotion[2]", DUPLICATE, ""),
            ],
        ),
        id="three phases",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": [1, None, ["Failed"]]}),
            [
                (f"{AR}.onVerification", TOO_MANY, ""),
                (f"{AR}.onVerification[0]", TYPE_INVALID, "string"),
                (f"{AR}.onVerification[1]", TYPE_INVALID, "string"),
                (f"{AR}.onVerification[2]", TYPE_INVALID, "string"),
            ],
        ),
        id="phases of the wrong types",
    ),
    # both shapes in one object
    pytest.param(
        Case(
            rollback({"onFailedPromotions": True, "onPromotion": ["Failed"]}),
            [
                (
                    f"{AR}.onFailedPromotions",
                    INVALID,
                    "cannot be combined with onPromotion or onVerification",
                )
            ],
            schema="any",
        ),
        id="any: both shapes in one object",
    ),
    pytest.param(
        Case(
            rollback({"onVerification": ["Failed"], "onFailedPromotions": False}),
            [(f"{AR}.onFailedPromotions", INVALID, "cannot be combined")],
            schema="any",
        ),
        id="any: both shapes, upstream key first",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": True, "onPromotion": ["Failed"]}),
            [(f"{AR}.onPromotion", NOT_SUPPORTED, '"onFailedPromotions"')],
            schema="seed",
        ),
        id="seed: both shapes in one object",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": True, "onPromotion": ["Failed"]}),
            [(f"{AR}.onFailedPromotions", NOT_SUPPORTED, '"onPromotion", "onVerification"')],
            schema="upstream",
        ),
        id="upstream: both shapes in one object",
    ),
    pytest.param(
        Case(rollback({"onFailedPromotions": None, "onPromotion": ["Failed"]}), schema="any"),
        id="any: a null key does not mix shapes",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotions": "yes", "onVerification": ["Errored"]}),
            [
                (f"{AR}.onFailedPromotions", INVALID, "cannot be combined"),
                (f"{AR}.onFailedPromotions", TYPE_INVALID, "boolean"),
                (f"{AR}.onVerification[0]", INVALID, "must be Failed or Error"),
            ],
            schema="any",
        ),
        id="any: mixed shapes and their values all judged",
    ),
    # unknown keys
    pytest.param(
        Case(
            rollback({"onFailure": True}),
            [
                (
                    f"{AR}.onFailure",
                    NOT_SUPPORTED,
                    '"onFailedPromotions", "onPromotion", "onVerification"',
                )
            ],
            schema="any",
        ),
        id="any: unknown key lists every key",
    ),
    pytest.param(
        Case(
            rollback({"onFailedPromotion": True}),
            [(f"{AR}.onFailedPromotion", NOT_SUPPORTED, 'supported values: "onFailedPromotions"')],
            schema="seed",
        ),
        id="seed: misspelt key",
    ),
    pytest.param(
        Case(
            rollback({"OnPromotion": ["Failed"], "onPromotion": ["Failed"]}),
            [(f"{AR}.OnPromotion", NOT_SUPPORTED, '"onPromotion", "onVerification"')],
            schema="upstream",
        ),
        id="upstream: key case matters",
    ),
    pytest.param(
        Case(
            rollback({"enabled": None}),
            [(f"{AR}.enabled", NOT_SUPPORTED, "")],
            schema="any",
        ),
        id="unknown key with a null value is still unknown",
    ),
]

WARNINGS = [
    pytest.param(
        Case(
            cfg({"stage": "a"}, {"stage": "b"}, {"stageSelector": {}}),
            warnings=[f"{P2}.stageSelector is empty and selects every Stage in the project"],
        ),
        id="empty selector selects every Stage",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": None, "matchLabels": {}, "matchExpressions": []}}),
            warnings=[f"{P0}.stageSelector is empty"],
        ),
        id="selector with only empty fields",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchLabels": {"tier": "web"}}, "autoRollback": {}}),
            warnings=[f"{P0}: autoRollback via pattern or labels"],
        ),
        id="autoRollback on labels",
    ),
    pytest.param(
        Case(
            cfg(
                {
                    "stageSelector": {"matchExpressions": [{"key": "t", "operator": "Exists"}]},
                    "autoRollback": {"onVerification": ["Failed"]},
                }
            ),
            warnings=[f"{P0}: autoRollback via pattern or labels"],
        ),
        id="autoRollback on label expressions",
    ),
    pytest.param(
        Case(
            cfg(
                {"stageSelector": {"name": "prod"}, "autoRollback": {}},
                {"stage": "dev", "autoRollback": {"onFailedPromotions": True}},
                {"stageSelector": {"matchLabels": {"tier": "web"}}, "autoRollback": None},
            ),
            warnings=[],
        ),
        id="no warning for exact names or without autoRollback",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {}, "autoRollback": {}}),
            warnings=[f"{P0}.stageSelector is empty"],
        ),
        id="autoRollback on an empty selector warns once",
    ),
]


@pytest.mark.parametrize("case", AUTO_ROLLBACK)
def test_auto_rollback(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", WARNINGS)
def test_warnings(case: Case) -> None:
    check(case)
