"""The AdmissionReview wire format: decoding a request and naming what went wrong.

The hot path decodes the body once (orjson) and lifts out only the envelope fields the webhook
decides on. The object itself stays the decoded JSON value: no model of the whole object, no
copy. Unknown envelope fields are ignored, since the API server adds fields over time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import orjson

Operation: TypeAlias = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: Final[frozenset[str]] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

API_VERSION_V1: Final = "admission.k8s.io/v1"
API_VERSION_V1BETA1: Final = "admission.k8s.io/v1beta1"
API_VERSIONS: Final[frozenset[str]] = frozenset({API_VERSION_V1, API_VERSION_V1BETA1})
REVIEW_KIND: Final = "AdmissionReview"


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        gv = f"{self.group}/{self.version}" if self.group else self.version
        return f"{gv} {self.kind}"


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The parts of `request` the webhook decides on. `obj`/`old_obj` are decoded JSON values."""

    api_version: str
    uid: str
    kind: GroupVersionKind
    operation: Operation
    name: str
    namespace: str
    username: str
    obj: dict[str, object] | None
    old_obj: dict[str, object] | None
    dry_run: bool


class ReviewError(Exception):
    """The review cannot be decided; `uid` is set when it can still be echoed in an answer."""

    def __init__(self, message: str, *, uid: str | None = None, api_version: str | None = None):
        super().__init__(message)
        self.message = message
        self.uid = uid
        self.api_version = api_version


def decode_review(body: bytes) -> AdmissionRequest:
    """Decode and check an AdmissionReview body; raise `ReviewError` for anything malformed."""
    if not body:
        raise ReviewError("request body is empty; expected an AdmissionReview")
    try:
        # orjson rejects invalid UTF-8 and nesting deeper than 1024 levels: a hostile body
        # fails here, before any recursion of ours.
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReviewError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(review, dict):
        raise ReviewError("request body must be a JSON object (an AdmissionReview)")

    api_version = review.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise ReviewError(
            f"unsupported apiVersion {_show(api_version)}; "
            f"expected {API_VERSION_V1} or {API_VERSION_V1BETA1}"
        )
    assert isinstance(api_version, str)
    if review.get("kind") != REVIEW_KIND:
        raise ReviewError(f"unsupported kind {_show(review.get('kind'))}; expected AdmissionReview")

    request = review.get("request")
    if not isinstance(request, dict):
        raise ReviewError("AdmissionReview has no request object", api_version=api_version)
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("request.uid is missing or not a string", api_version=api_version)

    def fail(message: str) -> ReviewError:
        return ReviewError(message, uid=uid, api_version=api_version)

    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise fail(f"unsupported request.operation {_show(operation)}")

    kind = request.get("kind")
    if not isinstance(kind, dict):
        raise fail("request.kind is missing or not an object")
    group, version, kind_name = kind.get("group", ""), kind.get("version"), kind.get("kind")
    if not isinstance(group, str) or not isinstance(version, str) or not isinstance(kind_name, str):
        raise fail("request.kind must have string group, version and kind")

    name = _optional_str(request, "name", fail)
    namespace = _optional_str(request, "namespace", fail)

    user_info = request.get("userInfo")
    if user_info is None:
        username = ""
    elif isinstance(user_info, dict):
        username = _optional_str(user_info, "username", fail, prefix="request.userInfo")
    else:
        raise fail("request.userInfo must be an object")

    obj = request.get("object")
    old_obj = request.get("oldObject")
    if obj is not None and not isinstance(obj, dict):
        raise fail("request.object must be an object")
    if old_obj is not None and not isinstance(old_obj, dict):
        raise fail("request.oldObject must be an object")
    if operation in ("CREATE", "UPDATE") and obj is None:
        raise fail(f"request.object is required for {operation}")
    if operation == "UPDATE" and old_obj is None:
        raise fail("request.oldObject is required for UPDATE")

    dry_run = request.get("dryRun", False)
    if dry_run is None:
        dry_run = False
    if not isinstance(dry_run, bool):
        raise fail("request.dryRun must be a boolean")

    return AdmissionRequest(
        api_version=api_version,
        uid=uid,
        kind=GroupVersionKind(group, version, kind_name),
        operation=operation,
        name=name,
        namespace=namespace,
        username=username,
        obj=obj,
        old_obj=old_obj,
        dry_run=dry_run,
    )


def _optional_str(
    container: dict[str, object],
    key: str,
    fail: Callable[[str], ReviewError],
    *,
    prefix: str = "request",
) -> str:
    value = container.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(f"{prefix}.{key} must be a string")
    return value


def _show(value: object) -> str:
    """A short, safe rendering of an unexpected envelope value for an error message."""
    text = repr(value)
    return text if len(text) <= 64 else text[:64] + "..."
