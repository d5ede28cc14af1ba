"""`stageSelector.name`: an exact Stage name, or a `glob:`/`regex:`/`regexp:` pattern.

Kargo's ProjectConfig webhook treats a name containing ':' as a pattern and rejects it when
`pkg/pattern.ParseNamePattern` fails: the part before the first ':' must be a known identifier,
and the rest must be a valid pattern of that kind (glob.py, regex.py), with Kargo's message.
"""

from __future__ import annotations

from app.k8s.field import ErrorList, FieldPath, go_quote, invalid
from app.kargo.patterns.glob import glob_error
from app.kargo.patterns.regex import regex_error

_GLOB_PREFIX_ID = "glob"
_REGEX_IDS = frozenset({"regex", "regexp"})


def is_pattern(name: str) -> bool:
    """Whether Kargo treats `name` as a pattern (it contains ':') rather than an exact name."""
    return ":" in name


def validate_name_selector(
    path: FieldPath, name: str, errors: ErrorList | None = None
) -> ErrorList:
    """Validate `stageSelector.name`; `path` is the path of that field. The error goes into
    `errors`, the caller's list (a new one when not given)."""
    if errors is None:
        errors = ErrorList()
    # An empty name places no constraint; a name without ':' is an exact Stage name, which Kargo
    # does not check here either.
    if not name or not is_pattern(name):
        return errors
    identifier, pattern = name.split(":", 1)
    if identifier == _GLOB_PREFIX_ID:
        detail = glob_error(pattern)
    elif identifier in _REGEX_IDS:
        detail = regex_error(pattern)
    else:
        detail = (
            f"invalid pattern identifier {go_quote(identifier)}: "
            'must be "regex", "regexp" or "glob"'
        )
    if detail is not None:
        errors.append(invalid(path, name, detail))
    return errors
