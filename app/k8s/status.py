"""Kubernetes `Status` objects for denials, built as apimachinery's `api/errors` builds them.

One difference, on purpose: a denial reports at most `MAX_REPORTED_ERRORS` errors, in its
message and its causes, and a last cause says how many more there were. apimachinery reports
every error, but its objects are bounded by etcd; a webhook answers whatever it is sent, and
an answer that grows with the errors in the request grew to hundreds of megabytes.
"""

from __future__ import annotations

from typing import Any

from app.k8s.field import MAX_QUOTED_VALUE_CHARS, ErrorList, clip

# The `reason` of the last cause when errors were left out. Not one of apimachinery's
# `CauseType`s (none fits); a client that knows only those reads it as an unknown cause.
OMITTED_ERRORS_REASON = "TooManyErrors"

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


def omitted_errors_message(count: int) -> str:
    return f"{count} more error{'' if count == 1 else 's'} not shown"


def aggregate_message(reported: ErrorList) -> str:
    """apimachinery's `ErrorList.ToAggregate().Error()`: one error bare, several in brackets.

    The errors the list kept (at most `MAX_REPORTED_ERRORS`), then how many more there were.
    """
    lines = list(dict.fromkeys(str(e) for e in reported))
    if reported.omitted:
        lines.append(omitted_errors_message(reported.omitted))
    if len(lines) == 1:
        return lines[0]
    return "[" + ", ".join(lines) + "]"


def causes(reported: ErrorList) -> list[dict[str, str]]:
    """One cause per reported error; a last one says how many more there were, if any."""
    found = [{"reason": e.type.reason, "message": e.message, "field": e.field} for e in reported]
    if reported.omitted:
        # No `field`: apimachinery omits an empty one, and this cause is about no one field.
        found.append(
            {"reason": OMITTED_ERRORS_REASON, "message": omitted_errors_message(reported.omitted)}
        )
    return found


def invalid(*, group: str, kind: str, name: str, errors: ErrorList) -> Status:
    """422 Invalid (`apierrors.NewInvalid`): one cause per errors field error."""
    qualified = f"{kind}.{group}" if group else kind
    name = clip(name, MAX_QUOTED_VALUE_CHARS)  # from the request: any length
    message = f'{qualified} "{name}" is invalid: {aggregate_message(errors)}'
    details = {"name": name, "group": group, "kind": kind, "causes": causes(errors)}
    return _status(422, "Invalid", message, details)


def forbidden(
    *, group: str, resource: str, name: str, detail: str, errors: ErrorList | None = None
) -> Status:
    """403 Forbidden (`apierrors.NewForbidden`)."""
    qualified = f"{resource}.{group}" if group else resource
    name = clip(name, MAX_QUOTED_VALUE_CHARS)  # from the request: any length
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
