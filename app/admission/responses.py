"""Admission decisions and the AdmissionReview answer that carries them.

A webhook's decision function returns a `Decision`; `encode_response` is the one place that
turns a decision into bytes on the wire, always echoing the request's uid and AdmissionReview
version.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Literal

import orjson

from app.admission.patch import PatchOp
from app.admission.review import API_VERSION_V1, REVIEW_KIND
from app.k8s import status as st
from app.k8s.warnings import MAX_WARNING_CHARS, MAX_WARNINGS, bound_warnings

Outcome = Literal["allowed", "patched", "denied", "error"]


@dataclass(slots=True)
class Decision:
    """What a webhook decided, and why.

    `why` is the decision's own short name ("unchanged", "invalid"), the `reason` label of the
    metrics and the decision log; not a `Status.reason`, which is Kubernetes' (`Forbidden`).
    """

    allowed: bool
    why: str
    status: st.Status | None = None
    patch: list[PatchOp] | None = None
    warnings: list[str] = field(default_factory=list)
    audit: dict[str, str] = field(default_factory=dict)
    # The request could not be decided on its merits (wrong kind or version, a malformed
    # object, a fault, the deadline): refused, and counted as an error rather than a denial.
    is_error: bool = False

    @property
    def outcome(self) -> Outcome:
        if not self.allowed:
            return "error" if self.is_error else "denied"
        return "patched" if self.patch else "allowed"


def allowed(why: str, *, warnings: list[str] | None = None) -> Decision:
    return Decision(True, why, warnings=warnings or [])


def patched(
    why: str,
    patch: list[PatchOp],
    *,
    warnings: list[str] | None = None,
    audit: dict[str, str] | None = None,
) -> Decision:
    return Decision(True, why, patch=patch, warnings=warnings or [], audit=audit or {})


def denied(
    why: str,
    status: st.Status,
    *,
    warnings: list[str] | None = None,
    audit: dict[str, str] | None = None,
) -> Decision:
    return Decision(False, why, status=status, warnings=warnings or [], audit=audit or {})


def errored(why: str, status: st.Status) -> Decision:
    """A refusal because the request could not be decided (`why` names the error)."""
    return Decision(False, why, status=status, is_error=True)


def encode_response(api_version: str | None, uid: str, decision: Decision) -> bytes:
    """Serialise the AdmissionReview answer; `api_version` falls back to v1 when unknown."""
    response: dict[str, object] = {"uid": uid, "allowed": decision.allowed}
    if decision.status is not None:
        response["status"] = decision.status
    if decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = binascii.b2a_base64(
            orjson.dumps(decision.patch), newline=False
        ).decode()
    warnings = decision.warnings
    if warnings:
        # Policies bound their warnings as they collect them; this holds whatever they did.
        if len(warnings) > MAX_WARNINGS or any(len(w) >= MAX_WARNING_CHARS for w in warnings):
            warnings = bound_warnings(warnings)
        response["warnings"] = warnings
    if decision.audit:
        response["auditAnnotations"] = decision.audit
    return orjson.dumps(
        {"apiVersion": api_version or API_VERSION_V1, "kind": REVIEW_KIND, "response": response}
    )
