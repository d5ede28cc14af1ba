"""The HTTP side of an admission webhook: a lean ASGI endpoint that always answers.

It owns the transport concerns (method, content type, body limit, decoding, the catch-all) and
hands a decoded `AdmissionRequest` to a policy function that never sees HTTP. It is a bare ASGI
callable mounted as a route inside the FastAPI app: FastAPI's request/response machinery costs
about half the throughput of this path, and a webhook sits on the write path of every promotion.

Every failure still becomes an AdmissionReview: with the request's uid when it could be read
(HTTP 200, `allowed: false`), otherwise HTTP 4xx with a review whose uid is empty. A 5xx is never
sent: the API server would treat it as a call failure and apply `failurePolicy`, which may be
`Ignore`; an answer that says "denied" cannot fail open.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.admission import responses as rsp
from app.admission import status as st
from app.admission.review import AdmissionRequest, GroupVersionKind, ReviewError, decode_review

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

Policy = Callable[[AdmissionRequest], rsp.Decision]

_JSON_HEADERS = [(b"content-type", b"application/json")]


class Recorder(Protocol):
    """Where decisions and rejections are counted and logged."""

    def record(
        self, webhook: str, request: AdmissionRequest, decision: rsp.Decision, duration: float
    ) -> None: ...

    def record_rejected(self, webhook: str, error: str, message: str, uid: str | None) -> None: ...

    def record_exception(self, webhook: str, uid: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """One admission endpoint: its path, the kind it accepts, and the policy that decides."""

    name: str
    path: str
    kind: GroupVersionKind
    policy: Policy


class BodyTooLarge(Exception):
    """The body is over the configured limit."""


class AdmissionEndpoint:
    """ASGI app for one webhook path."""

    def __init__(self, spec: WebhookSpec, *, max_body_bytes: int, recorder: Recorder) -> None:
        self.spec = spec
        self.max_body_bytes = max_body_bytes
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - routes only pass HTTP here
            return
        if scope["method"] != "POST":
            decision = rsp.errored("method", st.bad_request("only POST is accepted"))
            await _send(send, 405, decision, None, None, extra_headers=[(b"allow", b"POST")])
            return

        headers = scope["headers"]
        content_type = _header(headers, b"content-type")
        if content_type is None or not _is_json(content_type):
            await self._reject(send, 415, "content-type", "Content-Type must be application/json")
            return
        declared = _header(headers, b"content-length")
        if declared is not None:
            try:
                declared_length = int(declared)
            except ValueError:
                await self._reject(send, 400, "bad-request", "invalid Content-Length")
                return
            if declared_length > self.max_body_bytes:
                await self._reject(send, 413, "too-large", self._too_large_message())
                return

        try:
            body = await self._read_body(receive)
        except BodyTooLarge:
            await self._reject(send, 413, "too-large", self._too_large_message())
            return

        started = time.perf_counter()
        try:
            request = decode_review(body)
        except ReviewError as exc:
            if exc.uid is None:
                await self._reject(send, 400, "bad-request", exc.message)
            else:
                self.recorder.record_rejected(self.spec.name, "bad-request", exc.message, exc.uid)
                decision = rsp.errored("bad-request", st.bad_request(exc.message))
                await _send(send, 200, decision, exc.api_version, exc.uid)
            return

        decision = self.decide(request)
        self.recorder.record(self.spec.name, request, decision, time.perf_counter() - started)
        await _send(send, 200, decision, request.api_version, request.uid)

    def decide(self, request: AdmissionRequest) -> rsp.Decision:
        """Check the kind, then run the policy; an exception becomes a 500 denial, never a crash."""
        expected = self.spec.kind
        got = request.kind
        if got.group != expected.group or got.kind != expected.kind:
            return rsp.errored(
                "wrong-kind",
                st.bad_request(f"this endpoint admits {expected}; got {got}"),
            )
        if got.version != expected.version:
            return rsp.errored(
                "wrong-version",
                st.bad_request(
                    f"unsupported version {got.version!r} of {expected.kind}; "
                    f"register the webhook with matchPolicy: Equivalent for {expected}"
                ),
            )
        try:
            return self.spec.policy(request)
        except Exception:
            self.recorder.record_exception(self.spec.name, request.uid)
            return rsp.errored(
                "internal-error",
                st.internal_error("the webhook failed to decide this request; see its logs"),
            )

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise BodyTooLarge
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large_message(self) -> str:
        return f"request body is larger than the limit of {self.max_body_bytes} bytes"

    async def _reject(self, send: Send, http_status: int, error: str, message: str) -> None:
        self.recorder.record_rejected(self.spec.name, error, message, None)
        code = 413 if http_status == 413 else 400
        status = st.too_large(message) if code == 413 else st.bad_request(message)
        if http_status == 415:
            status["code"] = 415
            status["reason"] = "UnsupportedMediaType"
        await _send(send, http_status, rsp.errored(error, status), None, "")


async def _send(
    send: Send,
    http_status: int,
    decision: rsp.Decision,
    api_version: str | None,
    uid: str | None,
    *,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = rsp.encode_response(api_version, uid or "", decision)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json"
