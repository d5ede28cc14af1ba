"""The `Status` bodies the stand-in answers a failed write with, as kube-apiserver words them
(k8s.io/apimachinery `api/errors`: `NewInternalError`, `NewForbidden`, `NewConflict`,
`NewInvalid`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.e2e.schema import FieldError


class Rejected(Exception):
    """The write fails with this Status."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("message"))
        self.status = status


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def internal_error(message: str) -> dict[str, Any]:
    return status(500, "InternalError", f"Internal error occurred: {message}")


def qualified(plural: str, group: str) -> str:
    """`schema.GroupResource.String()`: `promotions.kargo.akuity.io`."""
    return f"{plural}.{group}" if group else plural


def forbidden(plural: str, group: str, name: str, message: str) -> dict[str, Any]:
    """`NewForbidden(groupResource, name, err)`."""
    what = f'{qualified(plural, group)} "{name}"' if name else qualified(plural, group)
    return status(
        403, "Forbidden", f"{what} is forbidden: {message}", name=name, group=group, kind=plural
    )


def conflict(plural: str, group: str, name: str, message: str) -> dict[str, Any]:
    """`NewConflict(groupResource, name, err)`."""
    return status(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {message}',
        name=name,
        group=group,
        kind=plural,
    )


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> dict[str, Any]:
    """`NewInvalid(groupKind, name, errs)`: 422 with every error as a cause."""
    shown = [f"{e.field}: {e.detail}" for e in errors]
    joined = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
    causes = [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]
    return status(
        422,
        "Invalid",
        f'{qualified(kind, group)} "{name}" is invalid: {joined}',
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


def denied(webhook: str, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """k8s.io/apiserver `webhook/errors.ToStatusErr`: a webhook's denial as the client gets it."""
    body = dict(result or {"metadata": {}, "status": "Failure"})
    denied_by = f'admission webhook "{webhook}" denied the request'
    if int(body.get("code") or 0) < 400:
        body["code"] = 400
    if body.get("status") in (None, "", "Success"):
        body["status"] = "Failure"
    if body.get("message"):
        body["message"] = f"{denied_by}: {body['message']}"
    elif body.get("reason"):
        body["message"] = f"{denied_by}: {body['reason']}"
    else:
        body["message"] = f"{denied_by} without explanation"
    return body
