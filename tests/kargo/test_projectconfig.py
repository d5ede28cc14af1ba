"""ProjectConfig validation: Kargo's webhook and CRD rules for names, policies and selectors.

Facts copied from Kargo (akuity/kargo): the CRD's stage pattern and CEL messages, and the
webhook's messages for the name and duplicate rules. The autoRollback shapes are in
test_projectconfig_autorollback.py, promotion windows in test_projectconfig_windows.py, and
inputs of any shape and size in test_projectconfig_robustness.py.
"""

import pytest

from app.kargo.projectconfig import (
    STAGE_NAME_PATTERN,
    AutoRollbackSchema,
    validate_project_config,
)
from tests.kargo.projectconfig_cases import (
    INVALID,
    NOT_SUPPORTED,
    ONE_OF,
    P0,
    P1,
    P2,
    P3,
    REQUIRED,
    TYPE_INVALID,
    W0,
    Case,
    cfg,
    check,
    windows,
)

NAME = [
    pytest.param(Case(cfg()), id="name matches namespace"),
    pytest.param(
        Case(
            {"metadata": {"name": "other", "namespace": "proj"}},
            [("metadata.name", INVALID, 'name "other" must match project name "proj"')],
        ),
        id="name differs from namespace on CREATE",
    ),
    pytest.param(
        Case({"metadata": {"name": "other", "namespace": "proj"}}, operation="UPDATE"),
        id="UPDATE skips the name rule",
    ),
    pytest.param(
        Case({"metadata": 5, "spec": None}, operation="UPDATE"),
        id="UPDATE does not look at metadata at all",
    ),
    pytest.param(
        Case(
            {"metadata": {"name": "proj\n", "namespace": "proj"}},
            [("metadata.name", INVALID, 'name "proj\\n" must match project name "proj"')],
        ),
        id="trailing newline in name is a different name",
    ),
    pytest.param(
        Case({}, [("metadata.name", REQUIRED, ""), ("metadata.namespace", REQUIRED, "")]),
        id="metadata missing",
    ),
    pytest.param(
        Case(
            {"metadata": None},
            [("metadata.name", REQUIRED, ""), ("metadata.namespace", REQUIRED, "")],
        ),
        id="metadata null",
    ),
    pytest.param(
        Case({"metadata": ["proj"]}, [("metadata", TYPE_INVALID, "must be of type object")]),
        id="metadata is a list",
    ),
    pytest.param(
        Case(
            {"metadata": {"name": 5, "namespace": "proj"}},
            [("metadata.name", TYPE_INVALID, "must be of type string")],
        ),
        id="name is a number",
    ),
    pytest.param(
        Case(
            {"metadata": {"name": "proj", "namespace": False}},
            [("metadata.namespace", TYPE_INVALID, "string")],
        ),
        id="namespace is a boolean",
    ),
    pytest.param(
        Case({"metadata": {"name": "", "namespace": "proj"}}, [("metadata.name", REQUIRED, "")]),
        id="name empty",
    ),
    pytest.param(
        Case({"metadata": {"name": "proj"}}, [("metadata.namespace", REQUIRED, "")]),
        id="namespace missing",
    ),
]

STRUCTURE = [
    pytest.param(Case([], [("", TYPE_INVALID, "must be of type object")]), id="object is a list"),
    pytest.param(Case("proj", [("", TYPE_INVALID, "object")]), id="object is a string"),
    pytest.param(Case(None, [("", TYPE_INVALID, "object")]), id="object is null"),
    pytest.param(Case(7, [("", TYPE_INVALID, "object")], operation="UPDATE"), id="object is 7"),
    pytest.param(Case({"metadata": {"name": "p", "namespace": "p"}}), id="spec missing"),
    pytest.param(Case({"metadata": {"name": "p", "namespace": "p"}, "spec": None}), id="spec null"),
    pytest.param(
        Case({"metadata": {"name": "p", "namespace": "p"}, "spec": {}}), id="spec empty object"
    ),
    pytest.param(
        Case(
            {"metadata": {"name": "p", "namespace": "p"}, "spec": []},
            [("spec", TYPE_INVALID, "must be of type object")],
        ),
        id="spec is a list",
    ),
    pytest.param(
        Case({"metadata": {"name": "p", "namespace": "p"}, "spec": {"promotionPolicies": None}}),
        id="promotionPolicies null",
    ),
    pytest.param(
        Case(
            {"metadata": {"name": "p", "namespace": "p"}, "spec": {"promotionPolicies": {}}},
            [("spec.promotionPolicies", TYPE_INVALID, "must be of type array")],
        ),
        id="promotionPolicies is an object",
    ),
    pytest.param(
        Case(
            {"metadata": {"name": "p", "namespace": "p"}, "spec": {"promotionPolicies": "dev"}},
            [("spec.promotionPolicies", TYPE_INVALID, "array")],
        ),
        id="promotionPolicies is a string",
    ),
    pytest.param(
        Case(
            cfg(5, None, "dev", ["dev"], True),
            [
                (P0, TYPE_INVALID, "object"),
                (P1, TYPE_INVALID, "object"),
                (P2, TYPE_INVALID, "object"),
                (P3, TYPE_INVALID, "object"),
                ("spec.promotionPolicies[4]", TYPE_INVALID, "object"),
            ],
        ),
        id="policies that are not objects",
    ),
    pytest.param(
        Case(
            cfg(
                {"stage": "dev"},
                webhookReceivers="anything",
                links=5,
                somethingNew={"x": [1]},
            )
        ),
        id="fields this webhook does not own pass through",
    ),
]

ONE_OF_CASES = [
    pytest.param(Case(cfg({"stage": "dev"})), id="stage alone"),
    pytest.param(Case(cfg({"stageSelector": {"name": "dev"}})), id="stageSelector alone"),
    pytest.param(
        Case(cfg({"stageSelector": {}}), warnings=[f"{P0}.stageSelector is empty"]),
        id="empty stageSelector counts as set",
    ),
    pytest.param(
        Case(cfg({"stage": None, "stageSelector": {"name": "dev"}})), id="null stage is absent"
    ),
    pytest.param(
        Case(cfg({"stage": "dev", "stageSelector": None})), id="null stageSelector is absent"
    ),
    pytest.param(
        Case(cfg({"stage": "dev", "stageSelector": {"name": "dev"}}), [(P0, INVALID, ONE_OF)]),
        id="both stage and stageSelector",
    ),
    pytest.param(
        Case(cfg({"stage": "dev", "stageSelector": {}}), [(P0, INVALID, ONE_OF)]),
        id="stage and an empty stageSelector",
    ),
    pytest.param(Case(cfg({}), [(P0, INVALID, ONE_OF)]), id="neither"),
    pytest.param(
        Case(cfg({"stage": None, "stageSelector": None}), [(P0, INVALID, ONE_OF)]),
        id="both null",
    ),
    pytest.param(
        Case(cfg({"autoPromotionEnabled": True, "autoRollback": {}}), [(P0, INVALID, ONE_OF)]),
        id="policy with settings but no target",
    ),
]

STAGE = [
    pytest.param(Case(cfg({"stage": "dev.eu-1"})), id="dotted stage name"),
    pytest.param(Case(cfg({"stage": "0"})), id="single digit stage name"),
    pytest.param(Case(cfg({"stage": "a" * 300})), id="pattern sets no length limit"),
    pytest.param(
        Case(cfg({"stage": "dev\n"}), [(f"{P0}.stage", INVALID, "should match '^[a-z0-9]")]),
        id="trailing newline in stage name",
    ),
    pytest.param(
        Case(cfg({"stage": "Dev"}), [(f"{P0}.stage", INVALID, "should match")]),
        id="uppercase stage name",
    ),
    pytest.param(
        Case(cfg({"stage": ""}), [(f"{P0}.stage", INVALID, "should match")]),
        id="empty stage name is set and invalid",
    ),
    pytest.param(
        Case(cfg({"stage": "-dev"}), [(f"{P0}.stage", INVALID, "should match")]),
        id="leading dash",
    ),
    pytest.param(
        Case(cfg({"stage": "dev..prod"}), [(f"{P0}.stage", INVALID, "should match")]),
        id="empty dotted segment",
    ),
    pytest.param(
        Case(cfg({"stage": "glob:dev-*"}), [(f"{P0}.stage", INVALID, "should match")]),
        id="patterns are not allowed in stage",
    ),
    pytest.param(
        Case(cfg({"stage": 5}), [(f"{P0}.stage", TYPE_INVALID, "must be of type string")]),
        id="stage is a number",
    ),
    pytest.param(
        Case(cfg({"stage": True}), [(f"{P0}.stage", TYPE_INVALID, "string")]),
        id="stage is a boolean",
    ),
    pytest.param(
        Case(cfg({"stage": ["dev"]}), [(f"{P0}.stage", TYPE_INVALID, "string")]),
        id="stage is a list",
    ),
    pytest.param(
        Case(cfg({"stage": {"name": "dev"}}), [(f"{P0}.stage", TYPE_INVALID, "string")]),
        id="stage is an object",
    ),
]

SELECTOR = [
    pytest.param(
        Case(cfg({"stageSelector": {"name": "Not A Kubernetes Name!"}})),
        id="exact selector names are not otherwise checked",
    ),
    pytest.param(
        Case(cfg({"stageSelector": {"name": "dev", "matchLabels": {"tier": "web"}}})),
        id="name and labels",
    ),
    pytest.param(
        Case(
            cfg(
                {
                    "stageSelector": {
                        "matchExpressions": [
                            {"key": "tier", "operator": "In", "values": ["web", "db"]}
                        ]
                    }
                }
            )
        ),
        id="label expressions alone",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": "dev"}),
            [(f"{P0}.stageSelector", TYPE_INVALID, "must be of type object")],
        ),
        id="stageSelector is a string",
    ),
    pytest.param(
        Case(cfg({"stageSelector": []}), [(f"{P0}.stageSelector", TYPE_INVALID, "object")]),
        id="stageSelector is a list",
    ),
    pytest.param(
        Case(cfg({"stageSelector": False}), [(f"{P0}.stageSelector", TYPE_INVALID, "object")]),
        id="stageSelector is a boolean",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": 5}}),
            [(f"{P0}.stageSelector.name", TYPE_INVALID, "must be of type string")],
        ),
        id="selector name is a number",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": ["dev"], "matchLabels": {"a": "b"}}}),
            [(f"{P0}.stageSelector.name", TYPE_INVALID, "string")],
        ),
        id="selector name is a list",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchLabels": {"bad key": "web"}}}),
            [(f"{P0}.stageSelector.matchLabels", INVALID, "name part must consist of")],
        ),
        id="invalid label key",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchLabels": {"tier": "web\n"}}}),
            [(f"{P0}.stageSelector.matchLabels", INVALID, "a valid label must be")],
        ),
        id="trailing newline in a label value",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchLabels": ["tier=web"]}}),
            [(f"{P0}.stageSelector.matchLabels", TYPE_INVALID, "object")],
        ),
        id="matchLabels is a list",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchExpressions": [{"key": "tier", "operator": "in"}]}}),
            [(f"{P0}.stageSelector.matchExpressions[0].operator", NOT_SUPPORTED, '"In"')],
        ),
        id="unsupported label operator",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchExpressions": [{"key": "tier", "operator": "In"}]}}),
            [(f"{P0}.stageSelector.matchExpressions[0].values", REQUIRED, "'In' or 'NotIn'")],
        ),
        id="In without values",
    ),
]

# These depend on app.kargo.patterns (RE2 and doublestar validation).
PATTERNS = [
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "glob:dev-*"}}, {"stageSelector": {"name": "regex:^p"}})
        ),
        id="valid glob and regex names",
    ),
    pytest.param(Case(cfg({"stageSelector": {"name": "regexp:dev|prod"}})), id="regexp identifier"),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "regex:("}}),
            [(f"{P0}.stageSelector.name", INVALID, "error parsing regexp")],
        ),
        id="unparsable regex",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "glob:["}}),
            [(f"{P0}.stageSelector.name", INVALID, "syntax error in pattern")],
        ),
        id="unterminated glob class",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "foo:bar"}}),
            [(f"{P0}.stageSelector.name", INVALID, 'invalid pattern identifier "foo"')],
        ),
        id="unknown pattern identifier",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "Glob:dev"}}),
            [(f"{P0}.stageSelector.name", INVALID, 'invalid pattern identifier "Glob"')],
        ),
        id="pattern identifier is case-sensitive",
    ),
    pytest.param(
        Case(
            cfg(
                {"stageSelector": {"name": "glob:dev-*"}},
                {"stageSelector": {"name": "glob:dev-*"}},
                {"stageSelector": {"name": "regex:^dev"}},
                {"stageSelector": {"name": "regex:^dev"}},
            )
        ),
        id="patterns are never duplicates",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"name": "regex:(", "matchLabels": {"bad key": "x"}}}),
            [
                (f"{P0}.stageSelector.name", INVALID, "error parsing regexp"),
                (f"{P0}.stageSelector.matchLabels", INVALID, "name part"),
            ],
        ),
        id="bad pattern and bad labels both reported",
    ),
    pytest.param(
        Case(
            windows({"stageSelector": {"name": "regex:("}}),
            [(f"{W0}.stageSelector.name", INVALID, "error parsing regexp")],
        ),
        id="unparsable regex in a promotion window",
    ),
    pytest.param(
        Case(windows({"stageSelector": {"name": "glob:prod-*"}})),
        id="valid glob in a promotion window",
    ),
    pytest.param(
        Case(
            cfg(
                {"stage": "a", "autoRollback": {}},
                {"stageSelector": {"name": "glob:prod-*"}, "autoRollback": {}},
            ),
            warnings=[f"{P1}: autoRollback via pattern or labels"],
        ),
        id="autoRollback on a pattern",
    ),
]

DUPLICATES = [
    pytest.param(
        Case(
            cfg({"stage": "dev"}, {"stage": "dev"}),
            [(P1, INVALID, f"stage name already defined at {P0}")],
        ),
        id="duplicate stage",
    ),
    pytest.param(
        Case(
            cfg({"stage": "dev"}, {"stageSelector": {"name": "dev", "matchLabels": {"a": "b"}}}),
            [(P1, INVALID, f"stage name already defined at {P0}")],
        ),
        id="duplicate stage name across stage and stageSelector",
    ),
    pytest.param(
        Case(
            cfg(
                {"stageSelector": {"name": "dev", "matchLabels": {"tier": "web"}}},
                {"stageSelector": {"name": "dev", "matchLabels": {"tier": "db"}}},
            ),
            [(P1, INVALID, f"already defined at {P0}")],
        ),
        id="labels do not tell two selectors with the same name apart",
    ),
    pytest.param(
        Case(
            cfg({"stage": "dev"}, {"stage": "dev"}, {"stageSelector": {"name": "dev"}}),
            [(P1, INVALID, f"at {P0}"), (P2, INVALID, f"at {P0}")],
        ),
        id="every later occurrence points at the first",
    ),
    pytest.param(
        Case(
            cfg({"stage": "a"}, {"stage": "b"}, {"stage": "a"}, {"stage": "b"}),
            [(P2, INVALID, f"at {P0}"), (P3, INVALID, f"at {P1}")],
        ),
        id="interleaved duplicates in policy order",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {}}, {"stageSelector": {"name": ""}}),
            warnings=[f"{P0}.stageSelector is empty", f"{P1}.stageSelector is empty"],
        ),
        id="empty names are never duplicates",
    ),
    pytest.param(
        Case(
            cfg({"stageSelector": {"matchLabels": {"a": "b"}}}, {"stageSelector": {"name": None}}),
            warnings=[f"{P1}.stageSelector is empty"],
        ),
        id="label-only selectors are never duplicates",
    ),
    pytest.param(
        Case(
            cfg({"stage": "dev", "stageSelector": {"name": "prod"}}, {"stage": "prod"}),
            [(P0, INVALID, ONE_OF), (P1, INVALID, f"stage name already defined at {P0}")],
        ),
        id="the selector's name wins over stage",
    ),
    pytest.param(
        Case(cfg({"stage": "dev", "stageSelector": {}}, {"stage": "dev"}), [(P0, INVALID, ONE_OF)]),
        id="an empty selector name wins over stage too",
    ),
    pytest.param(
        Case(
            cfg({"stage": "dev", "stageSelector": "prod"}, {"stage": "dev"}),
            [
                (P0, INVALID, ONE_OF),
                (f"{P0}.stageSelector", TYPE_INVALID, "object"),
                (P1, INVALID, f"at {P0}"),
            ],
        ),
        id="a selector that is not an object falls back to stage",
    ),
    pytest.param(
        Case(
            cfg({"stage": "Dev"}, {"stage": "Dev"}),
            [
                (f"{P0}.stage", INVALID, "should match"),
                (f"{P1}.stage", INVALID, "should match"),
                (P1, INVALID, f"at {P0}"),
            ],
        ),
        id="invalid stage names are still compared",
    ),
    pytest.param(
        Case(cfg({"stage": "dev"}, {"stage": "dev\n"}), [(f"{P1}.stage", INVALID, "should")]),
        id="trailing newline makes a different name",
    ),
    pytest.param(
        Case(cfg({"stage": "dev"}, {"stage": "Dev"}), [(f"{P1}.stage", INVALID, "should")]),
        id="names compare case-sensitively",
    ),
    pytest.param(
        Case(windows({"stageSelector": {"name": "prod"}}, {"stageSelector": {"name": "prod"}})),
        id="promotion windows may share names",
    ),
]

ALL = NAME + STRUCTURE + ONE_OF_CASES + STAGE + SELECTOR + DUPLICATES


@pytest.mark.parametrize("case", ALL)
def test_validate_project_config(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", PATTERNS)
def test_name_patterns(case: Case) -> None:
    check(case)


def errors_of(obj: object, schema: AutoRollbackSchema = "any") -> list[str]:
    verdict = validate_project_config(obj, operation="CREATE", schema=schema)
    return [str(e) for e in verdict.errors]


def test_messages_render_exactly() -> None:
    obj = {
        "metadata": {"name": "other", "namespace": "proj"},
        "spec": {
            "promotionPolicies": [
                {"stage": "dev\n", "stageSelector": {"name": "dev"}},
                {"stage": "dev", "autoRollback": {"onVerification": ["Failed", "Errored"]}},
                {"stage": "qa", "autoRollback": {"onPromotion": ["Failed"]}},
            ]
        },
    }
    assert errors_of(obj, schema="seed") == [
        'metadata.name: Invalid value: "other": name "other" must match project name "proj"',
        f'{P0}: Invalid value: "object": {ONE_OF}',
        f"{P0}.stage: Invalid value: \"dev\\n\": should match '{STAGE_NAME_PATTERN}'",
        f'{P1}: Invalid value: "dev": stage name already defined at {P0}',
        f'{P1}.autoRollback.onVerification: Unsupported value: "onVerification": '
        'supported values: "onFailedPromotions"',
        f'{P2}.autoRollback.onPromotion: Unsupported value: "onPromotion": '
        'supported values: "onFailedPromotions"',
    ]
    assert errors_of(obj, schema="any")[4] == (
        f'{P1}.autoRollback.onVerification[1]: Invalid value: "Errored": '
        "onVerification[1] must be Failed or Error"
    )


def test_stage_pattern_is_the_crds() -> None:
    assert STAGE_NAME_PATTERN == (
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    )


def test_five_problems_five_errors() -> None:
    obj = {
        "metadata": {"name": "other", "namespace": "proj"},
        "spec": {
            "promotionPolicies": [
                {"stage": "Dev"},
                {"stageSelector": {"name": "dev", "matchLabels": {"bad key": "x"}}},
                {"stage": "dev", "autoRollback": {"onPromotion": ["failed"]}},
            ]
        },
    }
    verdict = validate_project_config(obj, operation="CREATE", schema="any")
    assert [(e.field, e.type.reason) for e in verdict.errors] == [
        ("metadata.name", INVALID),
        (f"{P0}.stage", INVALID),
        (f"{P1}.stageSelector.matchLabels", INVALID),
        (P2, INVALID),
        (f"{P2}.autoRollback.onPromotion[0]", INVALID),
    ]


def test_update_reports_the_same_spec_errors_without_the_name() -> None:
    obj = {
        "metadata": {"name": "other", "namespace": "proj"},
        "spec": {"promotionPolicies": [{"stage": "dev"}, {"stage": "dev"}]},
    }
    create = validate_project_config(obj, operation="CREATE", schema="any")
    update = validate_project_config(obj, operation="UPDATE", schema="any")
    assert [e.field for e in create.errors] == ["metadata.name", P1]
    assert [e.field for e in update.errors] == [P1]
