"""ProjectConfig validation: Kargo's webhook and CRD rules and the two autoRollback shapes.

Facts copied from Kargo (akuity/kargo): the CRD's stage pattern and CEL messages, the webhook's
messages for the name and duplicate rules, and the autoRollback shapes of the seed commit
(c7adbbd, `onFailedPromotions`) and of upstream (`onPromotion`, `onVerification`).
"""

import time
from dataclasses import dataclass, field

import pytest

from app.k8s.field import FieldPath
from app.k8s.warnings import WarningList
from app.kargo.projectconfig import (
    STAGE_NAME_PATTERN,
    AutoRollbackSchema,
    Operation,
    _warn_about_selector,
    validate_project_config,
)

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
TOO_MANY = "FieldValueTooMany"
TYPE_INVALID = "FieldValueTypeInvalid"
FORBIDDEN = "FieldValueForbidden"

ONE_OF = "PromotionPolicy must have exactly one of stage or stageSelector set"
P0 = "spec.promotionPolicies[0]"
P1 = "spec.promotionPolicies[1]"
P2 = "spec.promotionPolicies[2]"
P3 = "spec.promotionPolicies[3]"
AR = f"{P0}.autoRollback"
W0 = "spec.promotionWindows[0]"


def cfg(*policies: object, **spec: object) -> dict[str, object]:
    """A ProjectConfig in namespace "proj" named after it, with the given policies."""
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": "proj", "namespace": "proj"},
        "spec": {"promotionPolicies": list(policies), **spec},
    }


def rollback(auto_rollback: object, stage: str = "dev") -> dict[str, object]:
    return cfg({"stage": stage, "autoRollback": auto_rollback})


def windows(*items: object) -> dict[str, object]:
    return cfg(promotionWindows=list(items))


@dataclass(frozen=True)
class Case:
    obj: object
    # (field, reason, message substring), in the order the validator reports them.
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    operation: Operation = "CREATE"
    schema: AutoRollbackSchema = "any"
    # Substrings of the expected warnings, in order; `None` means "not checked here".
    warnings: list[str] | None = None


def check(case: Case) -> None:
    verdict = validate_project_config(case.obj, operation=case.operation, schema=case.schema)
    got = [(e.field, e.type.reason) for e in verdict.errors]
    assert got == [(f, r) for f, r, _ in case.errors], [str(e) for e in verdict.errors]
    for err, (_, _, substring) in zip(verdict.errors, case.errors, strict=True):
        assert substring in err.message, str(err)
    if case.warnings is not None:
        assert len(verdict.warnings) == len(case.warnings), verdict.warnings
        for warning, substring in zip(verdict.warnings, case.warnings, strict=True):
            assert substring in warning
    for warning in verdict.warnings:
        assert len(warning) < 120, warning


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

ALL = NAME + STRUCTURE + ONE_OF_CASES + STAGE + SELECTOR + DUPLICATES + AUTO_ROLLBACK + WINDOWS


@pytest.mark.parametrize("case", ALL)
def test_validate_project_config(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", PATTERNS)
def test_name_patterns(case: Case) -> None:
    check(case)


@pytest.mark.parametrize("case", WARNINGS)
def test_warnings(case: Case) -> None:
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


def test_input_is_not_modified() -> None:
    obj = cfg(
        {"stage": "dev", "autoRollback": {"onPromotion": ["Failed", "Failed", "x"]}},
        {"stageSelector": {"name": "dev", "matchLabels": {"bad key": 1}}},
        promotionWindows=[{"stageSelector": {"matchExpressions": ["x"]}}],
    )
    before = repr(obj)
    assert validate_project_config(obj, operation="CREATE", schema="seed").errors
    assert repr(obj) == before


ODD_VALUES: list[object] = [None, True, 0, -1.5, "", "x\n", [], {}, [None], {"": None}, [[{}]]]


def test_wrong_types_anywhere_never_raise() -> None:
    def shapes(value: object) -> list[object]:
        return [
            value,
            {"metadata": value, "spec": value},
            {"spec": {"promotionPolicies": value, "promotionWindows": value}},
            cfg(value),
            cfg({"stage": value, "stageSelector": value, "autoRollback": value}),
            cfg({"stageSelector": {"name": value, "matchLabels": value}}),
            cfg({"stageSelector": {"matchExpressions": [value, {"key": value, "values": value}]}}),
            cfg({"stage": "a", "autoRollback": {"onFailedPromotions": value}}),
            cfg({"stage": "a", "autoRollback": {"onPromotion": value, "onVerification": [value]}}),
            windows(value, {"stageSelector": value}, {"stageSelector": {"name": value}}),
        ]

    schemas: tuple[AutoRollbackSchema, ...] = ("any", "seed", "upstream")
    operations: tuple[Operation, ...] = ("CREATE", "UPDATE")
    for value in ODD_VALUES:
        for obj in shapes(value):
            for schema in schemas:
                for operation in operations:
                    verdict = validate_project_config(obj, operation=operation, schema=schema)
                    assert all(len(w) < 120 for w in verdict.warnings)


@pytest.mark.parametrize("index", [0, 9, 123456, 123456789012])
def test_warnings_stay_under_120_characters(index: int) -> None:
    path = FieldPath.root("spec").child("promotionPolicies").index(index)
    warnings = WarningList()
    _warn_about_selector(path, {}, True, warnings)
    _warn_about_selector(path, {"name": "regex:" + "x" * 500}, True, warnings)
    _warn_about_selector(path, {"matchLabels": {"a": "b"}}, True, warnings)
    assert len(warnings) == 3
    for warning in warnings:
        assert str(path) in warning
        assert len(warning) < 120, warning


def many_policies(n: int) -> dict[str, object]:
    policies: list[object] = []
    for i in range(n):
        if i % 2:
            policies.append({"stage": f"stage-{i}", "autoRollback": {"onFailedPromotions": True}})
        else:
            policies.append(
                {
                    "stageSelector": {"name": f"stage-{i}", "matchLabels": {"tier": "web"}},
                    "autoRollback": {"onPromotion": ["Failed"], "onVerification": ["Error"]},
                }
            )
    return cfg(*policies)


def best_time(obj: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        validate_project_config(obj, operation="CREATE", schema="any")
        best = min(best, time.perf_counter() - start)
    return best


def test_ten_thousand_policies_validate_quickly() -> None:
    obj = many_policies(10_000)
    verdict = validate_project_config(obj, operation="CREATE", schema="any")
    assert not verdict.errors
    assert verdict.warnings.total == 5_000  # autoRollback on a label selector
    assert best_time(obj) < 0.5


def test_cost_grows_linearly() -> None:
    small, large = best_time(many_policies(2_000)), best_time(many_policies(20_000))
    # Ten times the policies: about ten times the time. Quadratic work would be ~100 times.
    assert large / small < 30, (small, large)


def test_ten_thousand_duplicates_are_linear() -> None:
    obj = cfg(*({"stage": "dev"} for _ in range(10_000)))
    verdict = validate_project_config(obj, operation="CREATE", schema="any")
    assert verdict.errors.total == 9_999
    assert all(e.detail.endswith(f"at {P0}") for e in verdict.errors)
    assert best_time(obj) < 0.5
