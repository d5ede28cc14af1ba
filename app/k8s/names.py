"""Kubernetes' name rules, written once: DNS-1123 labels and subdomains, qualified names, label
values.

These are apimachinery's `pkg/util/validation` (`IsDNS1123Label`, `IsDNS1123Subdomain`,
`IsQualifiedName`, `IsValidLabelValue`), with the messages of apimachinery v0.35 and later ("a
valid label key", "must be no more than 63 bytes"). Each `is_*` returns the messages saying why
a value breaks the rule, an empty list when it does not, as Go's functions do. Everything that
checks a Kubernetes name (settings, the policy command, ProjectConfig validation, label
selectors, the tests' API server) uses these.

Go's `^...$` anchors the whole text, while Python's `$` also matches before a trailing newline,
so every pattern here is applied with `re.fullmatch`.
"""

import re
from typing import Final

DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MAX_BYTES: Final = 63
_DNS1123_LABEL_ERR: Final = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character"
)
_DNS1123_LABEL_RE: Final = re.compile(DNS1123_LABEL_FMT)

DNS1123_SUBDOMAIN_FMT: Final = f"{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*"
DNS1123_SUBDOMAIN_MAX_BYTES: Final = 253
_DNS1123_SUBDOMAIN_ERR: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(DNS1123_SUBDOMAIN_FMT)

QUALIFIED_NAME_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
QUALIFIED_NAME_MAX_BYTES: Final = 63
_QUALIFIED_NAME_ERR: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_RE: Final = re.compile(QUALIFIED_NAME_FMT)

LABEL_VALUE_FMT: Final = f"({QUALIFIED_NAME_FMT})?"
LABEL_VALUE_MAX_BYTES: Final = 63
_LABEL_VALUE_ERR: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_RE: Final = re.compile(LABEL_VALUE_FMT)


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's `RegexError`: the rule, examples, and the regex that enforces it."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


_DNS1123_LABEL_REGEX_ERROR: Final = _regex_error(
    _DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"
)
_DNS1123_SUBDOMAIN_REGEX_ERROR: Final = _regex_error(
    _DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"
)
_QUALIFIED_NAME_REGEX_ERROR: Final = _regex_error(
    _QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"
)
_LABEL_VALUE_REGEX_ERROR: Final = _regex_error(
    _LABEL_VALUE_ERR, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"
)


def byte_len(value: str) -> int:
    """Go's `len(string)`: UTF-8 bytes, not characters (a lone surrogate counts as 3, as U+FFFD)."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_label(value: str) -> list[str]:
    """apimachinery's `IsDNS1123Label` (namespaces, most object names' parts)."""
    errs = []
    if byte_len(value) > DNS1123_LABEL_MAX_BYTES:
        errs.append(_max_len_error(DNS1123_LABEL_MAX_BYTES))
    if _DNS1123_LABEL_RE.fullmatch(value) is None:
        errs.append(_DNS1123_LABEL_REGEX_ERROR)
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """apimachinery's `IsDNS1123Subdomain` (most object names, qualified-name prefixes)."""
    errs = []
    if byte_len(value) > DNS1123_SUBDOMAIN_MAX_BYTES:
        errs.append(_max_len_error(DNS1123_SUBDOMAIN_MAX_BYTES))
    if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is None:
        errs.append(_DNS1123_SUBDOMAIN_REGEX_ERROR)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """apimachinery's `IsQualifiedName` (label and annotation keys): `[prefix/]name`."""
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
            f"a valid label key {_QUALIFIED_NAME_REGEX_ERROR} with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif byte_len(name) > QUALIFIED_NAME_MAX_BYTES:
        errs.append(f"name part {_max_len_error(QUALIFIED_NAME_MAX_BYTES)}")
    if _QUALIFIED_NAME_RE.fullmatch(name) is None:
        errs.append(f"name part {_QUALIFIED_NAME_REGEX_ERROR}")
    return errs


def is_label_value(value: str) -> list[str]:
    """apimachinery's `IsValidLabelValue`: empty is a valid label value."""
    errs = []
    if byte_len(value) > LABEL_VALUE_MAX_BYTES:
        errs.append(_max_len_error(LABEL_VALUE_MAX_BYTES))
    if _LABEL_VALUE_RE.fullmatch(value) is None:
        errs.append(_LABEL_VALUE_REGEX_ERROR)
    return errs
