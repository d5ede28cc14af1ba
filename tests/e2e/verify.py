"""A webhook's answer as kube-apiserver reads it: typed decoding, then `VerifyAdmissionResponse`.

kube-apiserver decodes the body into Go structs (`admissionv1.AdmissionReview`) with the
non-strict JSON serializer of its webhook client (k8s.io/apiserver `pkg/util/webhook/client.go`:
`NewCodecFactory(hookScheme).LegacyCodec`; k8s.io/apimachinery `runtime/serializer/json/
json.go`, `Serializer.unmarshal`: `kjson.UnmarshalCaseSensitivePreserveInts`).
What that means, modelled here:

- keys match struct fields case-sensitively (sigs.k8s.io/json; unlike the standard library's
  encoding/json, `"Allowed"` is not `allowed`); unknown keys are ignored; of a repeated key the
  last wins;
- a value of the wrong type (`"allowed": "false"`, a number among `warnings`, an object for
  `patchType`, `1.5` or `2**31` for `status.code`) is a decode error: the call fails
  (`failed to call webhook: json: cannot unmarshal ...`) and goes to `failurePolicy`;
- `null` leaves a bool, string or number at its zero value and makes a map, slice or pointer
  nil; `patch` is base64 (`[]byte`), and bad base64 is a decode error too;
- the body must be JSON (`couldn't get version/kind; json parse error: ...`, from
  apimachinery's `DefaultMetaFactory.Interpret`).

Then `request/admissionreview.go`, `VerifyAdmissionResponse` (v1), in its order: the response
present, its uid, apiVersion/kind, and the patch rules: for a mutating webhook `patch` and
`patchType` come together and `patchType` is not `""`; a validating webhook returns neither.
Errors there are `received invalid webhook response: ...` call errors
(`mutating/dispatcher.go` and `validating/dispatcher.go`, `callHook`).

`decode_patch` is the mutating dispatcher's next step (`callAttrMutatingHook`): a patch that
is not a JSON array of objects is `received undecodable patch in webhook response` (a call
error, so `Ignore` admits), an empty one changes nothing, and a patch type other than
`JSONPatch` is `unsupported patch type` (a call error). A patch that decodes but fails to
apply is no call error: the caller rejects with 500 whatever the policy.

Not modelled: the response `Content-Type` (the body is read as JSON whatever it says); Go's
exact wording of JSON syntax errors (the message keeps kube's prefix, then Python's words);
the typed decoding of an echoed `request` (it must be an object or null; its fields are not
checked); invalid UTF-8 (Go substitutes U+FFFD, here the body is decoded with replacement too).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tests.e2e.transport import CallError

REVIEW_API_VERSION: Final = "admission.k8s.io/v1"
REVIEW_KIND: Final = "AdmissionReview"
JSON_PATCH: Final = "JSONPatch"

_INT32: Final = (-(2**31), 2**31 - 1)
_INT64: Final = (-(2**63), 2**63 - 1)


@dataclass(frozen=True, slots=True)
class Answer:
    """`request.AdmissionResponse`: what kube-apiserver keeps of a verified answer."""

    allowed: bool
    patch: bytes = b""
    patch_type: str = ""
    # metav1.Status as Go re-encodes it (known fields only, zero values omitted); None: absent.
    status: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    audit_annotations: Mapping[str, str] = field(default_factory=dict)


class _GoFloat(str):
    """A JSON number written with a fraction or exponent: Go never puts one in an integer."""


class _TypeError(Exception):
    def __init__(self, value: str, struct: str, path: str, go_type: str) -> None:
        super().__init__(
            f"json: cannot unmarshal {value} into Go struct field {struct}.{path} of type {go_type}"
        )


class _SyntaxError(Exception):
    pass


# --- Go's typed decoding --------------------------------------------------------------------

# A decoder takes (value, Go struct name, JSON path) and returns the Go value, or raises
# `_TypeError` / `CallError`; `None` for JSON null is handled by each decoder (zero value).
_Decoder = Callable[[Any, str, str], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, _GoFloat)


def _kind(value: Any) -> str:
    """How encoding/json names a JSON value in UnmarshalTypeError."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | _GoFloat):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _named_string(go_type: str) -> _Decoder:
    def decode(value: Any, struct: str, path: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str) and not isinstance(value, _GoFloat):
            return value
        raise _TypeError(_kind(value), struct, path, go_type)

    return decode


_string = _named_string("string")


def _bool(value: Any, struct: str, path: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise _TypeError(_kind(value), struct, path, "bool")


def _integer(bounds: tuple[int, int], go_type: str) -> _Decoder:
    def decode(value: Any, struct: str, path: str) -> int:
        if value is None:
            return 0
        if isinstance(value, _GoFloat) or (isinstance(value, int) and not isinstance(value, bool)):
            if isinstance(value, int) and bounds[0] <= value <= bounds[1]:
                return value
            raise _TypeError(f"number {value}", struct, path, go_type)
        raise _TypeError(_kind(value), struct, path, go_type)

    return decode


def _bytes(value: Any, struct: str, path: str) -> bytes:
    """`[]byte`: a base64 string (`base64.StdEncoding`, which skips CR and LF)."""
    if value is None:
        return b""
    if not isinstance(value, str) or isinstance(value, _GoFloat):
        raise _TypeError(_kind(value), struct, path, "[]uint8")
    text = value.replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CallError(
            f"failed to call webhook: illegal base64 data at input byte {_bad_base64_at(text)}"
        ) from None


def _bad_base64_at(text: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for index, char in enumerate(text):
        if char not in alphabet and char != "=":
            return index
    return max(len(text) - 1, 0) if text else 0


def _slice(item: _Decoder, go_type: str) -> _Decoder:
    def decode(value: Any, struct: str, path: str) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _TypeError(_kind(value), struct, path, go_type)
        return [item(v, struct, path) for v in value]

    return decode


def _map_of_strings(value: Any, struct: str, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _TypeError(_kind(value), struct, path, "map[string]string")
    # The error path names struct fields only, never a map's key (decode.go, `object`).
    return {key: _string(v, struct, path) for key, v in value.items()}


def _struct(name: str, fields: Mapping[str, _Decoder], go_type: str) -> _Decoder:
    """A pointer to a struct: null is nil; only the exact field names are read."""

    def decode(value: Any, struct: str, path: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _TypeError(_kind(value), struct, path, go_type)
        out: dict[str, Any] = {}
        for key, raw in value.items():
            decoder = fields.get(key)
            if decoder is not None:
                out[key] = decoder(raw, name, f"{path}.{key}")
        return out

    return decode


_CAUSE = _struct(
    "StatusCause",
    {"reason": _named_string("v1.CauseType"), "message": _string, "field": _string},
    "v1.StatusCause",
)
_DETAILS = _struct(
    "StatusDetails",
    {
        "name": _string,
        "group": _string,
        "kind": _string,
        "uid": _named_string("types.UID"),
        "causes": _slice(_CAUSE, "[]v1.StatusCause"),
        "retryAfterSeconds": _integer(_INT32, "int32"),
    },
    "v1.StatusDetails",
)
_LIST_META = _struct(
    "ListMeta",
    {
        "selfLink": _string,
        "resourceVersion": _string,
        "continue": _string,
        "remainingItemCount": _integer(_INT64, "int64"),
    },
    "v1.ListMeta",
)
_STATUS = _struct(
    "Status",
    {
        "kind": _string,
        "apiVersion": _string,
        "metadata": _LIST_META,
        "status": _string,
        "message": _string,
        "reason": _named_string("v1.StatusReason"),
        "details": _DETAILS,
        "code": _integer(_INT32, "int32"),
    },
    "v1.Status",
)
_RESPONSE = _struct(
    "AdmissionResponse",
    {
        "uid": _named_string("types.UID"),
        "allowed": _bool,
        "status": _STATUS,
        "patch": _bytes,
        "patchType": _named_string("v1.PatchType"),  # a pointer: null is nil, apart from ""
        "auditAnnotations": _map_of_strings,
        "warnings": _slice(_string, "[]string"),
    },
    "v1.AdmissionResponse",
)


def _no_constant(name: str) -> Any:
    # Python reads NaN and Infinity; JSON, and Go, do not.
    raise _SyntaxError(f"invalid character '{name[0]}' looking for beginning of value")


def _loads(body: bytes) -> Any:
    """JSON with fractions kept as text, so an integer field can refuse them as Go does."""
    text = body.decode("utf-8", errors="replace")
    return json.loads(text, parse_float=_GoFloat, parse_constant=_no_constant)


def _omit_zero(status: Mapping[str, Any]) -> dict[str, Any]:
    """metav1.Status as Go encodes it again: `omitempty` fields at their zero value left out."""
    out: dict[str, Any] = {}
    for key, value in status.items():
        if isinstance(value, Mapping):
            out[key] = _omit_zero(value) if key != "metadata" else dict(value)
        elif isinstance(value, list):
            out[key] = [_omit_zero(v) if isinstance(v, Mapping) else v for v in value]
        elif value not in ("", 0, None) or isinstance(value, bool):
            out[key] = value
    return out


# --- the checks -----------------------------------------------------------------------------


def verify_answer(body: bytes, *, uid: str, mutating: bool) -> Answer:
    """The verified answer, or CallError with kube-apiserver's words."""
    if not body:
        raise CallError("failed to call webhook: 0-length response with status code: 200")
    try:
        document = _loads(body)
    except (ValueError, _SyntaxError) as exc:
        raise CallError(
            f"failed to call webhook: couldn't get version/kind; json parse error: {exc}"
        ) from None
    if not isinstance(document, dict):
        raise CallError(
            "failed to call webhook: couldn't get version/kind; json parse error: json: cannot "
            f"unmarshal {_kind(document)} into Go value of type struct {{ APIVersion string "
            '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
    # `Interpret` reads apiVersion and kind first, with the standard library's decoder: keys
    # matched case-insensitively, into an anonymous struct.
    for key, value in document.items():
        name = {"apiversion": "apiVersion", "kind": "kind"}.get(key.lower())
        if name and value is not None and (not isinstance(value, str) or _is_number(value)):
            raise CallError(
                "failed to call webhook: couldn't get version/kind; json parse error: "
                f"{_TypeError(_kind(value), '', name, 'string')}"
            )
    try:
        api_version = _string(document.get("apiVersion"), "AdmissionReview", "apiVersion")
        kind = _string(document.get("kind"), "AdmissionReview", "kind")
        request = document.get("request")
        if request is not None and not isinstance(request, dict):
            raise _TypeError(_kind(request), "AdmissionReview", "request", "v1.AdmissionRequest")
        response = _RESPONSE(document.get("response"), "AdmissionReview", "response")
    except _TypeError as exc:
        raise CallError(f"failed to call webhook: {exc}") from None
    return _verify(response, api_version, kind, uid=uid, mutating=mutating)


def _verify(
    response: dict[str, Any] | None, api_version: str, kind: str, *, uid: str, mutating: bool
) -> Answer:
    """`VerifyAdmissionResponse` for admission.k8s.io/v1, check for check."""

    def invalid(message: str) -> CallError:
        return CallError(f"received invalid webhook response: {message}")

    if response is None:
        raise invalid("webhook response was absent")
    got_uid = response.get("uid", "")
    if got_uid != uid:
        raise invalid(f"expected response.uid={_go_quote(uid)}, got {_go_quote(got_uid)}")
    if (api_version, kind) != (REVIEW_API_VERSION, REVIEW_KIND):
        raise invalid(
            f"expected webhook response of {REVIEW_API_VERSION}, Kind={REVIEW_KIND}, "
            f"got {api_version}, Kind={kind}"
        )
    patch: bytes = response.get("patch") or b""
    has_patch_type = response.get("patchType") is not None
    patch_type: str = response.get("patchType") or ""
    if mutating:
        if patch and not has_patch_type:
            raise invalid("webhook returned response.patch but not response.patchType")
        if not patch and has_patch_type:
            raise invalid("webhook returned response.patchType but not response.patch")
        if has_patch_type and not patch_type:
            raise invalid(f"webhook returned invalid response.patchType of {_go_quote('')}")
    else:
        if patch:
            raise invalid("validating webhook may not return response.patch")
        if has_patch_type:
            raise invalid("validating webhook may not return response.patchType")
        patch, patch_type = b"", ""
    status = response.get("status")
    return Answer(
        allowed=bool(response.get("allowed")),
        patch=patch,
        patch_type=patch_type,
        status=None if status is None else {"metadata": {}, **_omit_zero(status)},
        warnings=tuple(response.get("warnings") or ()),
        audit_annotations=dict(response.get("auditAnnotations") or {}),
    )


def decode_patch(answer: Answer) -> list[Any]:
    """The JSON patch's operations (empty: no change), as `callAttrMutatingHook` decodes it."""
    if not answer.patch:
        return []
    try:
        text = answer.patch.decode("utf-8", errors="replace")
        ops = json.loads(text, parse_constant=_no_constant)
    except (ValueError, _SyntaxError) as exc:
        raise CallError(f"received undecodable patch in webhook response: {exc}") from None
    # evanphx/json-patch `DecodePatch`: a []map[string]*json.RawMessage.
    if not isinstance(ops, list) or not all(op is None or isinstance(op, dict) for op in ops):
        shown = _kind(ops) if not isinstance(ops, list) else "array element"
        raise CallError(
            "received undecodable patch in webhook response: json: cannot unmarshal "
            f"{shown} into Go value of type jsonpatch.Patch"
        )
    if not ops:
        return []
    if answer.patch_type != JSON_PATCH:
        raise CallError(f"unsupported patch type {_go_quote(answer.patch_type)}")
    return ops


def _go_quote(text: str) -> str:
    """Go's %q for the plain strings compared here."""
    return json.dumps(text, ensure_ascii=False)
