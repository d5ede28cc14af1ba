"""Kubernetes label selector validation, as apimachinery's `ValidateLabelSelector` does it.

Kargo inlines a label selector (`matchLabels`, `matchExpressions`) into its `stageSelector` but
never validates it; a selector that `metav1.LabelSelectorAsSelector` cannot parse breaks every
Stage reconcile that reaches it. These are the rules of `pkg/apis/meta/v1/validation`
(`ValidateLabelSelector`, `ValidateLabelSelectorRequirement`, `ValidateLabels`) and of
`pkg/api/validate/content` (`IsLabelKey`, `IsLabelValue`, `IsDNS1123Subdomain`), with the
messages of apimachinery v0.35 and later ("a valid label key", "must be no more than 63 bytes").

Two deliberate differences, because a webhook sees raw JSON rather than a decoded Go struct:
a missing `key` or `operator` is `Required` (the CRD lists both as required), and an unknown
operator is `NotSupported` with the four operators listed rather than Go's bare `Invalid`. Wrong
JSON types are `TypeInvalid` at their own path instead of a decoding failure.

Go's `^...$` anchors the whole text, while Python's `$` also matches before a trailing newline,
so every pattern here is applied with `re.fullmatch`.
"""

import re

from app.admission.fieldpath import (
    FieldError,
    FieldPath,
    forbidden,
    invalid,
    not_supported,
    required,
    type_invalid,
)

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_KEY_MAX_BYTES = 63
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)

_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX_BYTES = 63
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MAX_BYTES = 253
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)

# metav1.LabelSelectorOperator values, in the order Kubernetes documents them.
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_OPERATORS_WITH_VALUES = frozenset({"In", "NotIn"})


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's `RegexError`: the rule, examples, and the regex that enforces it."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


_LABEL_KEY_REGEX_ERROR = _regex_error(
    _LABEL_KEY_ERR, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"
)
_LABEL_VALUE_REGEX_ERROR = _regex_error(
    _LABEL_VALUE_ERR, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"
)
_DNS1123_SUBDOMAIN_REGEX_ERROR = _regex_error(
    _DNS1123_SUBDOMAIN_ERR, _DNS1123_SUBDOMAIN_FMT, "example.com"
)


def _byte_len(value: str) -> int:
    """Go's `len(string)`: UTF-8 bytes, not characters (a lone surrogate counts as 3, as U+FFFD)."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_subdomain(value: str) -> list[str]:
    """apimachinery's `IsDNS1123Subdomain`: the messages saying why `value` is not one."""
    errs = []
    if _byte_len(value) > _DNS1123_SUBDOMAIN_MAX_BYTES:
        errs.append(_max_len_error(_DNS1123_SUBDOMAIN_MAX_BYTES))
    if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is None:
        errs.append(_DNS1123_SUBDOMAIN_REGEX_ERROR)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """apimachinery's `IsQualifiedName` (`IsLabelKey`): `[prefix/]name`, messages as Go's."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend(f"prefix part {msg}" for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            f"a valid label key {_LABEL_KEY_REGEX_ERROR} with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > _LABEL_KEY_MAX_BYTES:
        errs.append(f"name part {_max_len_error(_LABEL_KEY_MAX_BYTES)}")
    if _LABEL_KEY_RE.fullmatch(name) is None:
        errs.append(f"name part {_LABEL_KEY_REGEX_ERROR}")
    return errs


def is_label_value(value: str) -> list[str]:
    """apimachinery's `IsValidLabelValue` (`IsLabelValue`): empty is a valid label value."""
    errs = []
    if _byte_len(value) > _LABEL_VALUE_MAX_BYTES:
        errs.append(_max_len_error(_LABEL_VALUE_MAX_BYTES))
    if _LABEL_VALUE_RE.fullmatch(value) is None:
        errs.append(_LABEL_VALUE_REGEX_ERROR)
    return errs


def validate_label_selector(path: FieldPath, selector: dict[str, object]) -> list[FieldError]:
    """Validate `matchLabels` and `matchExpressions` of `selector`; `path` is the selector's path.

    Other keys (Kargo's `name`) are the caller's. `null` for either field means absent.
    """
    errs: list[FieldError] = []
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
                requirement_path = expressions_path.index(i)
                if isinstance(requirement, dict):
                    _validate_requirement(requirement_path, requirement, errs)
                else:
                    errs.append(type_invalid(requirement_path, requirement, "object"))
        else:
            errs.append(type_invalid(expressions_path, expressions, "array"))
    return errs


def _validate_labels(path: FieldPath, labels: dict[str, object], errs: list[FieldError]) -> None:
    # Kubernetes reports key and value problems at the map's own path, not at the entry.
    for key, value in labels.items():
        errs.extend(invalid(path, key, msg) for msg in is_qualified_name(key))
        if isinstance(value, str):
            errs.extend(invalid(path, value, msg) for msg in is_label_value(value))
        else:
            errs.append(type_invalid(path.key(key), value, "string"))


def _validate_requirement(
    path: FieldPath, requirement: dict[str, object], errs: list[FieldError]
) -> None:
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
