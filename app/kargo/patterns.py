"""Stage name selectors: exact names, `glob:` (doublestar) and `regex:`/`regexp:` (Go RE2).

Placeholder interface; the implementation lands with its tests.
"""

from app.admission.fieldpath import FieldError, FieldPath


def validate_name_selector(path: FieldPath, name: str) -> list[FieldError]:
    """Validate `stageSelector.name`; `path` is the path of that field."""
    raise NotImplementedError
