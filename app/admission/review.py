"""The AdmissionReview wire format: decoding a request and naming what went wrong.

The hot path decodes the body once (orjson) and lifts out only the envelope fields the webhook
decides on. The object itself stays the decoded JSON value: no model of the whole object, no
copy. Unknown envelope fields are ignored, since the API server adds fields over time.
"""

from __future__ import annotations

import re
from typing import Final, Literal, NamedTuple, TypeAlias

import orjson

Operation: TypeAlias = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: Final[frozenset[str]] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

API_VERSION_V1: Final = "admission.k8s.io/v1"
API_VERSION_V1BETA1: Final = "admission.k8s.io/v1beta1"
API_VERSIONS: Final[frozenset[str]] = frozenset({API_VERSION_V1, API_VERSION_V1BETA1})
REVIEW_KIND: Final = "AdmissionReview"


class GroupVersionKind(NamedTuple):
    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        gv = f"{self.group}/{self.version}" if self.group else self.version
        return f"{gv} {self.kind}"


class AdmissionRequest(NamedTuple):
    """The parts of `request` the webhook decides on. `obj`/`old_obj` are decoded JSON values.

    A named tuple: immutable, and built in one step on the hot path (a frozen dataclass sets
    each field through `object.__setattr__`, which cost a tenth of a request's own time).
    """

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
    """Decode and check an AdmissionReview body; raise `ReviewError` for anything malformed.

    On the hot path of every request: type checks are exact (`type(x) is str`; JSON decodes to
    exact types) and membership tests only ever see strings, so a list or an object where a
    string belongs is a `ReviewError` like any other wrong value, not a `TypeError`.
    """
    if not body:
        raise ReviewError("request body is empty; expected an AdmissionReview")
    try:
        # orjson rejects invalid UTF-8 and nesting deeper than 1024 levels: a hostile body
        # fails here, before any recursion of ours.
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReviewError(f"request body is not valid JSON: {exc}") from None
    if type(review) is not dict:
        raise ReviewError("request body must be a JSON object (an AdmissionReview)")

    api_version = review.get("apiVersion")
    if type(api_version) is not str or api_version not in API_VERSIONS:
        raise ReviewError(
            f"unsupported apiVersion {_show(api_version)}; "
            f"expected {API_VERSION_V1} or {API_VERSION_V1BETA1}"
        )
    if review.get("kind") != REVIEW_KIND:
        raise ReviewError(f"unsupported kind {_show(review.get('kind'))}; expected AdmissionReview")

    request = review.get("request")
    if type(request) is not dict:
        raise ReviewError("AdmissionReview has no request object", api_version=api_version)
    uid = request.get("uid")
    if type(uid) is not str or not uid:
        raise ReviewError("request.uid is missing or not a string", api_version=api_version)

    operation = request.get("operation")
    if type(operation) is not str or operation not in OPERATIONS:
        raise _invalid(uid, api_version, f"unsupported request.operation {_show(operation)}")

    kind = request.get("kind")
    if type(kind) is not dict:
        raise _invalid(uid, api_version, "request.kind is missing or not an object")
    group, version, kind_name = kind.get("group", ""), kind.get("version"), kind.get("kind")
    if type(group) is not str or type(version) is not str or type(kind_name) is not str:
        raise _invalid(uid, api_version, "request.kind must have string group, version and kind")

    name = request.get("name")
    if type(name) is not str:
        name = _absent_str(name, uid, api_version, "request.name")
    namespace = request.get("namespace")
    if type(namespace) is not str:
        namespace = _absent_str(namespace, uid, api_version, "request.namespace")

    user_info = request.get("userInfo")
    if type(user_info) is dict:
        username = user_info.get("username")
        if type(username) is not str:
            username = _absent_str(username, uid, api_version, "request.userInfo.username")
    elif user_info is None:
        username = ""
    else:
        raise _invalid(uid, api_version, "request.userInfo must be an object")

    obj = request.get("object")
    old_obj = request.get("oldObject")
    if obj is not None and type(obj) is not dict:
        raise _invalid(uid, api_version, "request.object must be an object")
    if old_obj is not None and type(old_obj) is not dict:
        raise _invalid(uid, api_version, "request.oldObject must be an object")
    if obj is None and operation in ("CREATE", "UPDATE"):
        raise _invalid(uid, api_version, f"request.object is required for {operation}")
    if old_obj is None and operation == "UPDATE":
        raise _invalid(uid, api_version, "request.oldObject is required for UPDATE")

    dry_run = request.get("dryRun")
    if dry_run is None:
        dry_run = False
    elif type(dry_run) is not bool:
        raise _invalid(uid, api_version, "request.dryRun must be a boolean")

    return AdmissionRequest(
        api_version,
        uid,
        GroupVersionKind(group, version, kind_name),
        operation,  # type: ignore[arg-type]  # checked against OPERATIONS above
        name,
        namespace,
        username,
        obj,
        old_obj,
        dry_run,
    )


# How far into a body `peek_uid` looks. The API server encodes the review with Go's
# encoding/json, which writes struct fields in declaration order: `kind` and `apiVersion`
# (metav1.TypeMeta), then `request`, whose first field is `uid` (k8s.io/api admission/v1
# types.go, `AdmissionRequest.UID`). So the uid ends within a few hundred bytes of the start.
PEEK_BYTES: Final = 4096
_PEEK_UID: Final = re.compile(rb'"request"\s*:\s*\{\s*"uid"\s*:\s*"([^"\\]{1,256})"')
_PEEK_VERSION: Final = re.compile(rb'"apiVersion"\s*:\s*"(admission\.k8s\.io/v1(?:beta1)?)"')


def peek_uid(body: bytes) -> tuple[str | None, str | None]:
    """(uid, apiVersion) read from the first `PEEK_BYTES` of a review, without decoding it.

    For answers that refuse a request (429, 413, 408, 504): decoding a large review only to
    echo its uid would cost what the refusal saves. Finds what the API server writes; a body
    laid out otherwise gets (None, ...) and its refusal goes out without a uid.
    """
    head = body[:PEEK_BYTES]
    uid = _PEEK_UID.search(head)
    version = _PEEK_VERSION.search(head)
    return (
        uid.group(1).decode("utf-8", "replace") if uid is not None else None,
        version.group(1).decode("ascii") if version is not None else None,
    )


def _invalid(uid: str, api_version: str, message: str) -> ReviewError:
    return ReviewError(message, uid=uid, api_version=api_version)


def _absent_str(value: object, uid: str, api_version: str, field: str) -> str:
    """An optional string field that is not a string: "" when absent or null, else an error."""
    if value is None:
        return ""
    raise _invalid(uid, api_version, f"{field} must be a string")


def _show(value: object) -> str:
    """A short, safe rendering of an unexpected envelope value for an error message."""
    text = repr(value)
    return text if len(text) <= 64 else text[:64] + "..."
