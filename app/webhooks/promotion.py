"""The rollback-annotation guard on Promotions: mutate (strip or restore) and validate (deny).

Kargo's rollback controller marks the Promotions it creates with `kargo.akuity.io/rollback:
"true"`, and promotion steps may skip approvals or tests when they see it. Kargo does not check
who set it, so only the controller's identity may set, change or remove it:

- mutating answer (mode `strip`): another user's CREATE loses the key whatever its value; an
  UPDATE gets the old object's value back, or loses the key if the old object had none
  (Kargo's `preserveAnnotation` semantics). Nothing else in the object is touched.
- validating answer (always on; the whole guard in mode `deny`): another user's CREATE carrying
  the key, or UPDATE adding, changing or removing it, is denied with 403 Forbidden. Behind the
  mutating webhook this is the safety net for a later mutating webhook that re-adds the key.

DELETE and CONNECT pass untouched: the API server rejects a patch on DELETE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal

from app.admission import responses as rsp
from app.admission import status as st
from app.admission.fieldpath import FieldPath, forbidden, go_quote
from app.admission.patch import PatchOp, add, pointer, remove, replace
from app.admission.review import AdmissionRequest
from app.kargo.constants import (
    GROUP,
    PROMOTION_RESOURCE,
    ROLLBACK_ANNOTATION,
    ROLLBACK_ANNOTATION_TRUE,
)

GuardMode = Literal["strip", "deny"]
IsController = Callable[[str], bool]

AUDIT_KEY: Final = "rollback-annotation"
_ANNOTATION_POINTER: Final = pointer("metadata", "annotations", ROLLBACK_ANNOTATION)
_ANNOTATION_FIELD: Final = str(
    FieldPath.root("metadata").child("annotations").key(ROLLBACK_ANNOTATION)
)
_STRIPPED_WARNING: Final = (
    f"annotation {ROLLBACK_ANNOTATION} removed: only the Kargo controller may set it"
)
_RESTORED_WARNING: Final = (
    f"annotation {ROLLBACK_ANNOTATION} restored to its previous value: "
    "only the Kargo controller may set it"
)


class _Absent:
    """The annotation is not there (distinct from any JSON value, `null` included)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()
AnnotationValue = object  # a JSON value, or ABSENT


class MalformedObject(ValueError):
    """The object's metadata is not shaped like Kubernetes metadata."""


def annotation_value(obj: dict[str, object] | None, *, which: str) -> AnnotationValue:
    """The rollback annotation's value in `obj`, or ABSENT. Raises `MalformedObject`."""
    if obj is None:
        return ABSENT
    metadata = obj.get("metadata")
    if metadata is None:
        return ABSENT
    if not isinstance(metadata, dict):
        raise MalformedObject(f"{which}.metadata must be an object")
    annotations = metadata.get("annotations")
    if annotations is None:
        return ABSENT
    if not isinstance(annotations, dict):
        raise MalformedObject(f"{which}.metadata.annotations must be an object")
    return annotations.get(ROLLBACK_ANNOTATION, ABSENT)


def _verb(old: AnnotationValue, new: AnnotationValue) -> str:
    if old is ABSENT:
        return "set"
    if new is ABSENT:
        return "remove"
    return "change"


def _bad_object(exc: MalformedObject) -> rsp.Decision:
    return rsp.denied("malformed-object", st.bad_request(str(exc)))


def _controller_warnings(new: AnnotationValue, changed: bool) -> list[str]:
    if changed and new is not ABSENT and new != ROLLBACK_ANNOTATION_TRUE:
        shown = go_quote(new)[:40] if isinstance(new, str) else type(new).__name__
        return [
            f"{ROLLBACK_ANNOTATION}={shown} is not a rollback: Kargo reads only the exact value "
            '"true"'
        ]
    return []


def _other_users_change(
    req: AdmissionRequest, is_controller: IsController
) -> rsp.Decision | tuple[AnnotationValue, AnnotationValue]:
    """What both answers share: a final decision, or the (old, new) values of a change to guard.

    Only CREATE and UPDATE are guarded; the controller passes (warned about a value Kargo would
    not read as a rollback); a request that leaves the annotation as it was passes.
    """
    if req.operation not in ("CREATE", "UPDATE"):
        return rsp.allowed("not-guarded-operation")
    try:
        new = annotation_value(req.obj, which="object")
        old = (
            annotation_value(req.old_obj, which="oldObject")
            if req.operation == "UPDATE"
            else ABSENT  # CREATE: there was no annotation before
        )
    except MalformedObject as exc:
        return _bad_object(exc)
    # Type-strict: JSON `true` and `1` are different values even though Python says True == 1.
    changed = type(old) is not type(new) or old != new
    if is_controller(req.username):
        return rsp.allowed("controller", warnings=_controller_warnings(new, changed))
    if not changed:
        return rsp.allowed("unchanged")
    return old, new


def mutate_promotion(
    req: AdmissionRequest, *, is_controller: IsController, mode: GuardMode
) -> rsp.Decision:
    """The mutating answer: strip (CREATE) or restore (UPDATE) another user's change."""
    assessed = _other_users_change(req, is_controller)
    if isinstance(assessed, rsp.Decision):
        return assessed
    old, new = assessed
    if mode == "deny":
        # The validating webhook denies; mutating here would hide the attempt from it.
        return rsp.allowed("deny-mode")

    if old is ABSENT:
        action, op, warning = "stripped", remove(_ANNOTATION_POINTER), _STRIPPED_WARNING
    else:
        action, op, warning = "restored", _restore_op(req.obj, old, new), _RESTORED_WARNING
    return rsp.patched(
        action,
        [op],
        warnings=[warning],
        audit={AUDIT_KEY: f"{action}: {_verb(old, new)} by {req.username or '<anonymous>'}"},
        guard_action=action,
    )


def _restore_op(obj: dict[str, object] | None, old: object, new: AnnotationValue) -> PatchOp:
    """One op that puts `old` back, whatever shape the new object's metadata has."""
    if new is not ABSENT:
        return replace(_ANNOTATION_POINTER, old)
    metadata = obj.get("metadata") if obj is not None else None
    if not isinstance(metadata, dict):
        return add(pointer("metadata"), {"annotations": {ROLLBACK_ANNOTATION: old}})
    if not isinstance(metadata.get("annotations"), dict):
        # Absent or null: `add` creates (or replaces the null with) the map.
        return add(pointer("metadata", "annotations"), {ROLLBACK_ANNOTATION: old})
    return add(_ANNOTATION_POINTER, old)


def validate_promotion(req: AdmissionRequest, *, is_controller: IsController) -> rsp.Decision:
    """The validating answer: deny another user's CREATE with the key or UPDATE changing it."""
    assessed = _other_users_change(req, is_controller)
    if isinstance(assessed, rsp.Decision):
        return assessed
    old, new = assessed

    verb = _verb(old, new)
    detail = (
        f"user {go_quote(req.username)} may not {verb} annotation {ROLLBACK_ANNOTATION}: "
        "only the Kargo controller may set, change or remove it"
    )
    error = forbidden(FieldPath(_ANNOTATION_FIELD), detail)
    return rsp.denied(
        "forbidden",
        st.forbidden(
            group=GROUP, resource=PROMOTION_RESOURCE, name=req.name, detail=detail, errors=[error]
        ),
        audit={AUDIT_KEY: f"denied: {verb} by {req.username or '<anonymous>'}"},
        guard_action="denied",
    )
