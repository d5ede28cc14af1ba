"""Kubernetes label selector validation (apimachinery `ValidateLabelSelector`).

Placeholder interface; the implementation lands with its tests.
"""

from app.admission.fieldpath import FieldError, FieldPath


def validate_label_selector(path: FieldPath, selector: dict[str, object]) -> list[FieldError]:
    """Validate `matchLabels` and `matchExpressions` of `selector`; `path` is the selector's path."""
    raise NotImplementedError
