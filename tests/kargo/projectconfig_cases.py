"""The ProjectConfig validation cases' shared parts: a ProjectConfig builder, the case type and
its check, and the reasons and field paths the cases name."""

from dataclasses import dataclass, field

from app.kargo.projectconfig import AutoRollbackSchema, Operation, validate_project_config

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
