"""The ProjectConfig webhook: Kargo's ProjectConfig rules, behind the validating adapter.

The rules (`app.kargo.projectconfig`) return every field error and warning; the adapter
(`app.admission.validating`) makes them one answer, ratcheting an UPDATE's old errors. All this
module adds is what the adapter asks of a resource: its GroupKind, its rules with the
autoRollback schema bound, and what its rules read on UPDATE (the spec alone).
"""

from __future__ import annotations

from typing import Final, final

from app.admission.review import GroupVersionKind
from app.admission.validating import GroupKind, Observer, Validated
from app.k8s.ratcheting import same_json
from app.kargo.constants import GROUP, PROJECT_CONFIG_KIND, VERSION
from app.kargo.projectconfig import (
    AutoRollbackSchema,
    ProjectConfigVerdict,
    validate_project_config,
)

PROJECT_CONFIG_GVK: Final = GroupVersionKind(GROUP, VERSION, PROJECT_CONFIG_KIND)
_GROUP_KIND: Final = GroupKind(GROUP, PROJECT_CONFIG_KIND)


@final
class ProjectConfigRules:
    """ProjectConfig's rules for `ValidatingWebhook`, with the autoRollback schema bound."""

    __slots__ = ("_schema",)

    def __init__(self, *, schema: AutoRollbackSchema) -> None:
        self._schema: AutoRollbackSchema = schema

    @property
    def group_kind(self) -> GroupKind:
        return _GROUP_KIND

    def validate(
        self, obj: dict[str, object], operation: Validated, observer: Observer | None
    ) -> ProjectConfigVerdict:
        return validate_project_config(
            obj, operation=operation, schema=self._schema, observer=observer
        )

    def unchanged(self, obj: dict[str, object], old_obj: dict[str, object]) -> bool:
        # On UPDATE the rules read nothing but the spec (the name rule is CREATE's alone).
        return same_json(obj.get("spec"), old_obj.get("spec"))
