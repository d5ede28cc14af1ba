"""Kubernetes label selector validation, as apimachinery's `ValidateLabelSelector` does it.

Kargo inlines a label selector (`matchLabels`, `matchExpressions`) into its `stageSelector` but
never validates it; a selector that `metav1.LabelSelectorAsSelector` cannot parse breaks every
Stage reconcile that reaches it. These are the rules of `pkg/apis/meta/v1/validation`
(`ValidateLabelSelector`, `ValidateLabelSelectorRequirement`, `ValidateLabels`); the key and
value rules themselves are `app.k8s.names`.

Two deliberate differences, because a webhook sees raw JSON rather than a decoded Go struct:
a missing `key` or `operator` is `Required` (the CRD lists both as required), and an unknown
operator is `NotSupported` with the four operators listed rather than Go's bare `Invalid`. Wrong
JSON types are `TypeInvalid` at their own path instead of a decoding failure.
"""

from typing import Final

from app.k8s.cooperative import pause
from app.k8s.field import (
    ErrorList,
    FieldPath,
    forbidden,
    invalid,
    not_supported,
    required,
    type_invalid,
)
from app.k8s.names import is_label_value, is_qualified_name

# metav1.LabelSelectorOperator values, in the order Kubernetes documents them.
OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")
_OPERATORS_WITH_VALUES: Final = frozenset({"In", "NotIn"})


def validate_label_selector(
    path: FieldPath, selector: dict[str, object], errs: ErrorList | None = None
) -> ErrorList:
    """Validate `matchLabels` and `matchExpressions` of `selector`; `path` is the selector's path.

    The errors go into `errs`, the caller's list (a new one when not given), bounded as they are
    found: a selector of a million bad labels keeps no more than any other validation. Other
    keys (Kargo's `name`) are the caller's. `null` for either field means absent.
    """
    if errs is None:
        errs = ErrorList()
    labels = selector.get("matchLabels")
    if labels is not None:
        labels_path = path.child("matchLabels")
        if isinstance(labels, dict):
            _validate_labels(labels_path, labels, errs)
        else:
            errs.append(type_invalid(labels_path, labels, "object"))
    expressions = selector.get("matchExpressions")
    if expressions is not None:
        expressions_path = path.child("matchExpressions")
        if isinstance(expressions, list):
            for i, requirement in enumerate(expressions):
                pause()
                requirement_path = expressions_path.index(i)
                if isinstance(requirement, dict):
                    _validate_requirement(requirement_path, requirement, errs)
                else:
                    errs.append(type_invalid(requirement_path, requirement, "object"))
        else:
            errs.append(type_invalid(expressions_path, expressions, "array"))
    return errs


def _validate_labels(path: FieldPath, labels: dict[str, object], errs: ErrorList) -> None:
    # Kubernetes reports key and value problems at the map's own path, not at the entry.
    for key, value in labels.items():
        pause()
        errs.extend(invalid(path, key, msg) for msg in is_qualified_name(key))
        if isinstance(value, str):
            errs.extend(invalid(path, value, msg) for msg in is_label_value(value))
        else:
            errs.append(type_invalid(path.key(key), value, "string"))


def _validate_requirement(path: FieldPath, requirement: dict[str, object], errs: ErrorList) -> None:
    values = requirement.get("values")
    values_path = path.child("values")
    # A wrong type for `values` is reported below; its count is then unknown, so not judged.
    count: int | None = None
    if values is None:
        count = 0
    elif isinstance(values, list):
        count = len(values)

    operator = requirement.get("operator")
    operator_path = path.child("operator")
    if operator is None:
        errs.append(required(operator_path, "must be specified"))
    elif not isinstance(operator, str):
        errs.append(type_invalid(operator_path, operator, "string"))
    elif operator not in OPERATORS:
        errs.append(not_supported(operator_path, operator, OPERATORS))
    elif count is None:
        pass
    elif operator in _OPERATORS_WITH_VALUES:
        if count == 0:
            errs.append(
                required(values_path, "must be specified when `operator` is 'In' or 'NotIn'")
            )
    elif count > 0:
        errs.append(
            forbidden(
                values_path, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )
        )

    key = requirement.get("key")
    key_path = path.child("key")
    if key is None:
        errs.append(required(key_path, "must be specified"))
    elif isinstance(key, str):
        errs.extend(invalid(key_path, key, msg) for msg in is_qualified_name(key))
    else:
        errs.append(type_invalid(key_path, key, "string"))

    if values is None:
        return
    if not isinstance(values, list):
        errs.append(type_invalid(values_path, values, "array"))
        return
    for i, value in enumerate(values):
        if isinstance(value, str):
            errs.extend(invalid(values_path.index(i), value, msg) for msg in is_label_value(value))
        else:
            errs.append(type_invalid(values_path.index(i), value, "string"))
