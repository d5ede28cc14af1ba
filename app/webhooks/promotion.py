"""The rollback-annotation guard on Promotions: mutate (strip or restore) and validate (deny).

Kargo's rollback controller marks the Promotions it creates with `kargo.akuity.io/rollback:
"true"`, and promotion steps may skip approvals or tests when they see it. Kargo does not check
who set it, so only the controller's identity may set, change or remove it. What a request does
to the annotation, and who may do it, is `app.kargo.rollback`'s rule; this module turns it
into answers:

- mutating answer (mode `strip`): another user's CREATE loses the key whatever its value; an
  UPDATE gets the old object's value back, or loses the key if the old object had none
  (Kargo's `preserveAnnotation` semantics). Nothing else in the object is touched.
- validating answer (always on; the whole guard in mode `deny`): another user's CREATE carrying
  the key, or UPDATE adding, changing or removing it, is denied with 403 Forbidden. Behind the
  mutating webhook this is the safety net for a later mutating webhook that re-adds the key.

DELETE and CONNECT pass untouched: the API server rejects a patch on DELETE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

from app.admission import responses as rsp
from app.admission.patch import PatchOp, add, pointer, remove, replace
from app.admission.review import AdmissionRequest, GroupVersionKind
from app.k8s import status as st
from app.k8s.field import MAX_QUOTED_VALUE_CHARS, ErrorList, FieldError, clip
from app.kargo.constants import (
    GROUP,
    PROMOTION_KIND,
    PROMOTION_RESOURCE,
    ROLLBACK_ANNOTATION,
    VERSION,
)
from app.kargo.rollback import (
    ABSENT,
    AnnotationChange,
    AnnotationValue,
    GuardMode,
    IsController,
    annotation_change,
    forbidden_error,
    malformed_message,
    not_a_rollback_warnings,
)

PROMOTION_GVK: Final = GroupVersionKind(GROUP, VERSION, PROMOTION_KIND)


AUDIT_KEY: Final = "rollback-annotation"
# What the guard did, by the decision's `why`, for `krw_rollback_guard_actions_total` (the
# dispatch table hands it to the metrics; nothing guard-specific rides on a `Decision`).
GUARD_ACTIONS: Final[Mapping[str, str]] = {
    "stripped": "stripped",
    "restored": "restored",
    "forbidden": "denied",
}
_ANNOTATION_POINTER: Final = pointer("metadata", "annotations", ROLLBACK_ANNOTATION)
_STRIPPED_WARNING: Final = (
    f"annotation {ROLLBACK_ANNOTATION} removed: only the Kargo controller may set it"
)
_RESTORED_WARNING: Final = (
    f"annotation {ROLLBACK_ANNOTATION} restored to its previous value: "
    "only the Kargo controller may set it"
)


def _user(req: AdmissionRequest) -> str:
    """The username for a message or an audit annotation: from the request, so of any length."""
    return clip(req.username, MAX_QUOTED_VALUE_CHARS) if req.username else "<anonymous>"


def _bad_object(error: FieldError) -> rsp.Decision:
    # Not a denial on the merits: the review cannot be judged, so it counts as an error.
    return rsp.errored("malformed-object", st.bad_request(malformed_message(error)))


def _other_users_change(
    req: AdmissionRequest, is_controller: IsController
) -> rsp.Decision | AnnotationChange:
    """What both answers share: a final decision, or the (old, new) values of a change to guard.

    Only CREATE and UPDATE are guarded; the controller passes (warned about a value Kargo would
    not read as a rollback); a request that leaves the annotation as it was passes.
    """
    if req.operation not in ("CREATE", "UPDATE"):
        return rsp.allowed("not-guarded-operation")
    change = annotation_change(
        is_update=req.operation == "UPDATE",
        username=req.username,
        obj=req.obj,
        old_obj=req.old_obj,
        is_controller=is_controller,
    )
    if isinstance(change, FieldError):
        return _bad_object(change)
    if change.by_controller:
        return rsp.allowed("controller", warnings=not_a_rollback_warnings(change))
    if not change.changed:
        return rsp.allowed("unchanged")
    return change


def mutate_promotion(
    req: AdmissionRequest, *, is_controller: IsController, mode: GuardMode
) -> rsp.Decision:
    """The mutating answer: strip (CREATE) or restore (UPDATE) another user's change."""
    assessed = _other_users_change(req, is_controller)
    if isinstance(assessed, rsp.Decision):
        return assessed
    old, new = assessed.old, assessed.new
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
        audit={AUDIT_KEY: f"{action}: {assessed.verb} by {_user(req)}"},
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
    error = forbidden_error(assessed, req.username)
    return rsp.denied(
        "forbidden",
        st.forbidden(
            group=GROUP,
            resource=PROMOTION_RESOURCE,
            name=req.name,
            detail=error.detail,
            errors=ErrorList.of(error),
        ),
        audit={AUDIT_KEY: f"denied: {assessed.verb} by {_user(req)}"},
    )


@final
class PromotionGuard:
    """Both answers bound to the controller's identity and the mode, for the dispatch table."""

    __slots__ = ("_is_controller", "_mode")

    def __init__(self, *, is_controller: IsController, mode: GuardMode) -> None:
        self._is_controller = is_controller
        self._mode: GuardMode = mode

    def mutate(self, req: AdmissionRequest) -> rsp.Decision:
        return mutate_promotion(req, is_controller=self._is_controller, mode=self._mode)

    def validate(self, req: AdmissionRequest) -> rsp.Decision:
        return validate_promotion(req, is_controller=self._is_controller)
