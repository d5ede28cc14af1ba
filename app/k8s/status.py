"""Kubernetes `Status` objects for denials, built as apimachinery's `api/errors` builds them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.k8s.field import FieldError

Status = dict[str, Any]


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Status:
    status: Status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        status["details"] = details
    return status


def aggregate_message(errors: Sequence[FieldError]) -> str:
    """apimachinery's `ErrorList.ToAggregate().Error()`: one error bare, several in brackets."""
    lines = list(dict.fromkeys(str(e) for e in errors))
    if len(lines) == 1:
        return lines[0]
    return "[" + ", ".join(lines) + "]"


def causes(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [{"reason": e.type.reason, "message": e.message, "field": e.field} for e in errors]


def invalid(*, group: str, kind: str, name: str, errors: Sequence[FieldError]) -> Status:
    """422 Invalid (`apierrors.NewInvalid`): one cause per field error."""
    qualified = f"{kind}.{group}" if group else kind
    message = f'{qualified} "{name}" is invalid: {aggregate_message(errors)}'
    details = {"name": name, "group": group, "kind": kind, "causes": causes(errors)}
    return _status(422, "Invalid", message, details)


def forbidden(
    *, group: str, resource: str, name: str, detail: str, errors: Sequence[FieldError] = ()
) -> Status:
    """403 Forbidden (`apierrors.NewForbidden`)."""
    qualified = f"{resource}.{group}" if group else resource
    message = f'{qualified} "{name}" is forbidden: {detail}'
    details: dict[str, Any] = {"name": name, "group": group, "kind": resource}
    if errors:
        details["causes"] = causes(errors)
    return _status(403, "Forbidden", message, details)


def bad_request(message: str) -> Status:
    return _status(400, "BadRequest", message)


def method_not_allowed(message: str) -> Status:
    """405 (`apierrors.NewMethodNotSupported`'s reason)."""
    return _status(405, "MethodNotAllowed", message)


def request_timeout(message: str) -> Status:
    """408: the request itself (its body) did not arrive in time; `Timeout` is the reason
    apimachinery gives to both this and 504."""
    return _status(408, "Timeout", message)


def unsupported_media_type(message: str) -> Status:
    return _status(415, "UnsupportedMediaType", message)


def internal_error(message: str) -> Status:
    return _status(500, "InternalError", message)


def timeout(message: str) -> Status:
    return _status(504, "Timeout", message)


def too_large(message: str) -> Status:
    return _status(413, "RequestEntityTooLarge", message)


def too_many_requests(message: str, retry_after_seconds: int) -> Status:
    """429, as apimachinery's `NewTooManyRequests`: the client is told when to retry."""
    return _status(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after_seconds})
