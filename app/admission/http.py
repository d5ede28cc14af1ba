"""The HTTP side of an admission webhook: a lean ASGI endpoint that always answers.

It owns the transport concerns (method, content type, body limit, decoding, the catch-all) and
hands a decoded `AdmissionRequest` to a decision function that never sees HTTP. It is a bare ASGI
callable that the application calls directly for its path, not a FastAPI route: FastAPI's
request/response machinery costs about half the throughput of this path, and a webhook sits on
the write path of every promotion.

Every failure still becomes an AdmissionReview: with the request's uid when it could be read
(HTTP 200, `allowed: false`), otherwise HTTP 4xx with a review whose uid is empty. This endpoint
never sends a 5xx: the API server would treat it as a call failure and apply `failurePolicy`,
which may be `Ignore`; an answer that says "denied" cannot fail open. When the server has no
decision slot free, the transport hands the request to `refuse_overloaded` instead of the
endpoint itself: a denial with code 429 that asks the client to retry, with the request's uid.
Refusals that never decode the review (429, 413, 408, 504) read its uid from the start of what
arrived (`peek_uid`); without one there, the answer is the HTTP status itself (429, 413 or 408)
with an AdmissionReview whose uid is empty.

A request has one deadline, the API server's `?timeout=` less a margin, counted from the moment
its headers arrived (the transport puts that loop time into the scope under `ARRIVAL_KEY`): the
time its body took to arrive is spent from the same budget as its decision. `?timeout=` is
clamped to the API server's own range, 1 to 30 s. A small review is decided on the loop (unless
already late); a review over `offload_bytes` is decoded, decided and encoded in the endpoint's
worker (`app.admission.worker`: one at a time, fairly between clients), and one abandoned at its
deadline is cut short and keeps its decision slot until the worker lets go of it
(`KEEP_SLOT_KEY`).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from app.admission import responses as rsp
from app.admission.review import (
    PEEK_BYTES,
    AdmissionRequest,
    GroupVersionKind,
    ReviewError,
    decode_review,
    peek_uid,
)
from app.admission.worker import Worker, settle
from app.k8s import status as st

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# A webhook's decision function: the request in, the `Decision` out (never sees HTTP).
Decide = Callable[[AdmissionRequest], rsp.Decision]

_CONTENT_TYPE_JSON: Final = (b"content-type", b"application/json")


class Recorder(Protocol):
    """Where decisions and rejections are counted and logged."""

    def record(
        self, webhook: str, request: AdmissionRequest, decision: rsp.Decision, duration: float
    ) -> None: ...

    def record_rejected(self, webhook: str, error: str, message: str, uid: str | None) -> None: ...

    def record_exception(self, webhook: str, uid: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """One admission endpoint: its path, the kind it accepts, and the function that decides."""

    name: str
    path: str
    kind: GroupVersionKind
    decide: Decide
    # What a decision did to the object, by its `why` ("stripped"), for a webhook whose
    # actions are counted (`krw_rollback_guard_actions_total`); None counts none.
    actions: Mapping[str, str] | None = None


class BodyTooLarge(Exception):
    """The body is over the configured limit."""


# The API server's default webhook timeout, used when a request carries no `?timeout=`.
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
# `timeoutSeconds` may be 1 to 30 (admissionregistration validation); the query string's value is
# clamped to that range: a client cannot ask for an answer at once (`?timeout=0s`, which once
# left its review queued after the 504) nor hold a decision for longer.
MIN_TIMEOUT_SECONDS: Final = 1.0
MAX_TIMEOUT_SECONDS: Final = 30.0
# Answer this much before the API server's deadline, so the denial arrives before it gives up
# (network, TLS and the API server's own bookkeeping take the rest): 10% of the timeout, at
# least 50 ms, at most 500 ms.
_MARGIN_FRACTION: Final = 0.1
_MARGIN_MIN: Final = 0.05
_MARGIN_MAX: Final = 0.5
# Bodies up to this size are decided inline on the event loop (well under a millisecond);
# larger ones in a worker thread, so that the deadline can still answer while they run.
DEFAULT_OFFLOAD_BYTES: Final = 64 * 1024

# The scope key under which the transport records when the request's headers were complete
# (event-loop time); absent (in-process tests, other servers) the deadline counts from the call.
ARRIVAL_KEY: Final = "kargo_rollback_webhook.arrived"
# The scope key under which the transport puts the request's decision slot (`Slot`): its `keep()`
# is called when a decision outlives its answer (the worker cannot be stopped), so its bytes stay
# counted until the worker ends; what `keep()` returns gives the slot back.
KEEP_SLOT_KEY: Final = "kargo_rollback_webhook.keep_slot"
# What an overloaded server asks the API server's client to wait before retrying.
OVERLOAD_RETRY_SECONDS: Final = 1

_TIMEOUT_PATTERN: Final = re.compile(rb"(?:^|&)timeout=(\d+(?:\.\d+)?)(ms|s|m)(?:&|$)")
_UNIT_SECONDS: Final = {b"ms": 0.001, b"s": 1.0, b"m": 60.0}


@functools.lru_cache(maxsize=64)
def request_timeout(query_string: bytes) -> float:
    """The API server's `?timeout=10s` (a Go duration), clamped; the default when absent.

    Cached: an API server sends the same query string on every call of a webhook. The cache
    holds at most 64 query strings of at most --max-header-bytes each: 4 MiB at the default.
    """
    match = _TIMEOUT_PATTERN.search(query_string)
    if match is None:
        return DEFAULT_TIMEOUT_SECONDS
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return min(max(seconds, MIN_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)


def answer_budget(timeout: float) -> float:
    """Seconds available to answer, leaving a margin before the API server's deadline."""
    margin = min(max(timeout * _MARGIN_FRACTION, _MARGIN_MIN), _MARGIN_MAX)
    return max(timeout - margin, 0.0)


# The soonest a request's deadline can come after its headers: the floor's answer budget.
_EARLIEST_DEADLINE: Final = answer_budget(MIN_TIMEOUT_SECONDS)


class AdmissionEndpoint:
    """ASGI app for one webhook path."""

    def __init__(
        self,
        spec: WebhookSpec,
        *,
        max_body_bytes: int,
        recorder: Recorder,
        offload_bytes: int = DEFAULT_OFFLOAD_BYTES,
    ) -> None:
        self.spec = spec
        self.max_body_bytes = max_body_bytes
        self.recorder = recorder
        self.offload_bytes = offload_bytes
        # Decides the large reviews, one at a time, fairly between clients (`_decide_large`).
        self._worker = Worker(spec.name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - routes only pass HTTP here
            return
        # One coroutine for the whole exchange: this runs on every request.
        try:
            if scope["method"] != "POST":
                decision = rsp.errored("method", st.method_not_allowed("only POST is accepted"))
                await _send(send, 405, decision, None, None, extra_headers=[(b"allow", b"POST")])
                return

            refusal = self._refuse_head(scope["headers"])
            if refusal is not None:
                if refusal[0] == 413 and not _expects_continue(scope["headers"]):
                    # The transport started this once the body's first part was there: its
                    # first message is what arrived, at once (never 100 Continue's invitation).
                    first = await receive()
                    await self._refuse_body(send, *refusal, first.get("body", b""))
                else:
                    await self._reject(send, *refusal)
                return

            # The API server sends head and body at once, so the first message is nearly always
            # the whole body and needs no timer (the connection's --body-timeout bounds the wait
            # for it). A body in several parts is read against the request's deadline.
            first = await receive()
            body = first.get("body", b"")
            if first.get("more_body", False):
                chunks: list[bytes] = []
                try:
                    async with asyncio.timeout_at(self._deadline(scope)):
                        body = await self._read_body(first, receive, chunks)
                except BodyTooLarge:
                    await self._refuse_too_large(send, _start_of(chunks))
                    return
                except TimeoutError:
                    await self._refuse_body(send, *_BODY_LATE, _start_of(chunks))
                    return
            elif len(body) > self.max_body_bytes:
                await self._refuse_too_large(send, body)
                return

            started = time.perf_counter()
            if len(body) > self.offload_bytes:
                # Decoded in the worker too: a large review is never decoded on the loop.
                await self._decide_large(body, scope, send, started)
                return
            arrived = scope.get(ARRIVAL_KEY)
            if arrived is not None:
                now = asyncio.get_running_loop().time()
                # Under the same one deadline as the large ones: late already (a pipelined
                # request, a body that took its time), it is refused rather than decided. No
                # deadline comes sooner than `_EARLIEST_DEADLINE` after the headers, so the
                # request path computes none before that.
                if now - arrived >= _EARLIEST_DEADLINE and now >= self._deadline(scope):
                    await self._send_late(send, scope, body)
                    return
            try:
                request = decode_review(body)
            except ReviewError as exc:
                if exc.uid is None:
                    await self._reject(send, 400, "bad-request", exc.message)
                else:
                    self.recorder.record_rejected(
                        self.spec.name, "bad-request", exc.message, exc.uid
                    )
                    decision = rsp.errored("bad-request", st.bad_request(exc.message))
                    await _send(send, 200, decision, exc.api_version, exc.uid)
                return
            decision = self.decide(request)
            answer = rsp.encode_response(request.api_version, request.uid, decision)
            self.recorder.record(self.spec.name, request, decision, time.perf_counter() - started)
            await send(
                {"type": "http.response.start", "status": 200, "headers": _json_headers(answer)}
            )
            await send({"type": "http.response.body", "body": answer})
        except Exception:
            # A fault of the transport code itself (the decision function's are caught in
            # `decide`). Nothing has been sent yet unless sending failed, in which case the
            # connection is gone.
            await self._answer_own_fault(send)

    async def _answer_own_fault(self, send: Send) -> None:
        """Count a fault of this code and still answer with an AdmissionReview (code 500), never
        uvicorn's plain 500."""
        self.recorder.record_exception(self.spec.name, "")
        decision = rsp.errored(
            "internal-error",
            st.internal_error("the webhook failed to answer this request; see its logs"),
        )
        await _send(send, 200, decision, None, None)

    def _refuse_head(self, headers: Iterable[Any]) -> tuple[int, str, str] | None:
        """(HTTP status, error, message) when the headers alone rule the request out.

        `headers` is the scope's, an iterable of [name, value] pairs (tuples from uvicorn, any
        pairs by the ASGI spec); typed loosely on purpose, as compiled code checks declared
        container types at run time.
        """
        content_type = declared = None
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                declared = value
        if content_type != b"application/json" and (
            content_type is None or not _is_json(content_type)
        ):
            return 415, "content-type", "Content-Type must be application/json"
        if declared is not None:
            try:
                declared_length = int(declared)
            except ValueError:
                return 400, "bad-request", "invalid Content-Length"
            if declared_length > self.max_body_bytes:
                return 413, "too-large", self._too_large_message()
        return None

    @staticmethod
    def _deadline(scope: Scope) -> float:
        """When the answer is due (loop time): the API server's `?timeout=` less a margin,
        from the moment the headers arrived (module docstring).

        Every decision runs under it: an inline one is refused when it is already late, a large
        one in the worker is abandoned at it.
        """
        timeout = request_timeout(scope.get("query_string", b""))
        arrived = scope.get(ARRIVAL_KEY)
        if arrived is None:
            arrived = asyncio.get_running_loop().time()
        return float(arrived) + answer_budget(timeout)

    async def refuse_overloaded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Deny a request that found the server at capacity: 429 and a retry, with its uid.

        The body is complete when this runs; its uid and version are read from its start
        (`peek_uid`), never by decoding it: an answer without them is a failed call to the API
        server, which `failurePolicy: Ignore` turns into an admission. A body without a uid
        there (not the API server's) is answered HTTP 429 with an empty uid. Counted by the
        transport (`krw_overload_rejections_total`), not logged one by one: an overload is a
        flood.
        """
        try:
            body = b""
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client is gone
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            await self._send_overloaded(send, body)
        except Exception:
            # As in `__call__`: still an AdmissionReview, never uvicorn's plain 500.
            await self._answer_own_fault(send)

    async def _decide_large(self, body: bytes, scope: Scope, send: Send, started: float) -> None:
        """Decode, decide and encode a large review in the endpoint's worker (`Worker`: one
        decision at a time, fairly between clients), under the request's deadline; past it,
        deny (fail closed) and move on.

        While it waits for the worker, its bytes count as waiting, not decided (`Slot.wait`,
        `Slot.start`); one evicted to make room for another client's is answered 429 and a
        retry; one past its deadline leaves without a trace. A decision the deadline abandons
        is cut short at its next pause point, and its decision slot is kept (`KEEP_SLOT_KEY`)
        until the thread has let go of it: no work piles up behind the answers.
        """
        loop = asyncio.get_running_loop()
        slot = scope.get(KEEP_SLOT_KEY)
        worker = self._worker
        job = worker.enter(slot.client, slot.fits_decided) if slot is not None else worker.enter("")
        decided: asyncio.Future[_Outcome | None] | None = None
        try:
            async with asyncio.timeout_at(self._deadline(scope)):
                if not job.turn.done():
                    evicted: asyncio.Future[None] = loop.create_future()
                    if slot is not None:
                        slot.wait(functools.partial(settle, evicted))
                    await asyncio.wait([job.turn, evicted], return_when=asyncio.FIRST_COMPLETED)
                    if evicted.done():
                        await self._send_overloaded(send, body)
                        return
                if slot is not None and not slot.start():
                    await self._send_overloaded(send, body)
                    return
                decided = worker.run(job, self._decide_offloaded, body)
                await asyncio.wait([decided])
        except TimeoutError:
            await self._send_late(send, scope, body)
            return
        finally:
            if decided is None:
                worker.leave(job)  # never ran: its turn passes on
            elif not decided.done():
                # Abandoned (deadline, or the task cancelled): cut short, its slot kept until
                # the worker lets go.
                worker.abandon(job)
                decided.add_done_callback(_drop_outcome)
                if slot is not None:
                    release = slot.keep()
                    decided.add_done_callback(lambda _: release())
        outcome = decided.result()
        if outcome is None:  # pragma: no cover - only an abandoned decision is cut short
            await self._answer_own_fault(send)
            return
        self._record(outcome, started)
        await _send_answer(send, outcome.http_status, outcome.answer)

    async def _send_overloaded(self, send: Send, body: bytes) -> None:
        """429 and a retry, with the uid read from the body's start (`refuse_overloaded`)."""
        uid, api_version = peek_uid(body)
        message = "the webhook is at capacity; retry the request"
        decision = rsp.errored("overloaded", st.too_many_requests(message, OVERLOAD_RETRY_SECONDS))
        retry = [(b"retry-after", b"%d" % OVERLOAD_RETRY_SECONDS)]
        await _send(send, 200 if uid else 429, decision, api_version, uid, extra_headers=retry)

    async def _send_late(self, send: Send, scope: Scope, body: bytes) -> None:
        """The deadline passed: a 504 denial with the uid read from the body's start, or,
        without one, HTTP 408 with an empty uid (never a 5xx: `failurePolicy` would apply)."""
        timeout = request_timeout(scope.get("query_string", b""))
        message = (
            f"no decision within the API server's timeout of {timeout:g}s; "
            "the request is refused rather than admitted unchecked"
        )
        uid, api_version = peek_uid(body)
        self.recorder.record_rejected(self.spec.name, "deadline-exceeded", message, uid)
        decision = rsp.errored("deadline-exceeded", st.timeout(message))
        await _send(send, 200 if uid else 408, decision, api_version, uid)

    def _decide_offloaded(self, body: bytes) -> _Outcome:
        """`_decide_body` in the worker, for a large review; the decoded objects are freed
        here, not on the loop: the outcome keeps the request without them."""
        outcome = self._decide_body(body)
        request = outcome.request
        if request is not None:
            outcome = outcome._replace(request=request._replace(obj=None, old_obj=None))
        return outcome

    def _decide_body(self, body: bytes) -> _Outcome:
        """Decode, decide and encode a large review (in the worker, see `_decide_offloaded`).
        Encoding belongs with the decision: the answer to a large review, encoded on the loop,
        once held up every other request for up to a second."""
        try:
            request = decode_review(body)
        except ReviewError as exc:
            decision = rsp.errored("bad-request", st.bad_request(exc.message))
            answer = rsp.encode_response(exc.api_version, exc.uid or "", decision)
            return _Outcome(200 if exc.uid else 400, answer, None, decision, exc)
        decision = self.decide(request)
        answer = rsp.encode_response(request.api_version, request.uid, decision)
        return _Outcome(200, answer, request, decision, None)

    def _record(self, outcome: _Outcome, started: float) -> None:
        if outcome.request is not None:
            elapsed = time.perf_counter() - started
            self.recorder.record(self.spec.name, outcome.request, outcome.decision, elapsed)
        elif outcome.error is not None:
            error = outcome.error
            self.recorder.record_rejected(self.spec.name, "bad-request", error.message, error.uid)

    def decide(self, request: AdmissionRequest) -> rsp.Decision:
        """Check the kind, then run the decision function; an exception becomes a 500 denial,
        never a crash."""
        if request.kind != self.spec.kind:
            return self._wrong_kind(request.kind)
        try:
            return self.spec.decide(request)
        except Exception:
            self.recorder.record_exception(self.spec.name, request.uid)
            return rsp.errored(
                "internal-error",
                st.internal_error("the webhook failed to decide this request; see its logs"),
            )

    def _wrong_kind(self, got: GroupVersionKind) -> rsp.Decision:
        expected = self.spec.kind
        if got.group == expected.group and got.kind == expected.kind:
            return rsp.errored(
                "wrong-version",
                st.bad_request(
                    f"unsupported version {got.version!r} of {expected.kind}; "
                    f"register the webhook with matchPolicy: Equivalent for {expected}"
                ),
            )
        return rsp.errored(
            "wrong-kind", st.bad_request(f"this endpoint admits {expected}; got {got}")
        )

    async def _read_body(self, message: Message, receive: Receive, chunks: list[bytes]) -> bytes:
        """The body from `message` on, refusing it as soon as it passes the limit; `chunks`
        holds what was read, for a refusal's uid."""
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                chunks.append(chunk)
                if size > self.max_body_bytes:
                    raise BodyTooLarge
            if not message.get("more_body", False):
                break
            message = await receive()
        return b"".join(chunks)

    def _too_large_message(self) -> str:
        return f"request body is larger than the limit of {self.max_body_bytes} bytes"

    async def refuse_body_late(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Deny a request whose body did not arrive within `--body-timeout` (the transport's
        clock, `Application.body_late`): code 408, with the uid if the part that arrived (its
        first message) carries it."""
        try:
            message = await receive()
            await self._refuse_body(send, *_BODY_LATE, message.get("body", b""))
        except Exception:
            # As in `__call__`: still an AdmissionReview, never uvicorn's plain 500.
            await self._answer_own_fault(send)

    async def _refuse_too_large(self, send: Send, start: bytes) -> None:
        await self._refuse_body(send, 413, "too-large", self._too_large_message(), start)

    async def _refuse_body(
        self, send: Send, http_status: int, error: str, message: str, start: bytes
    ) -> None:
        """413 or 408 for a body never decoded: a denial with that code and the uid read from
        `start` (`peek_uid`), HTTP 200; without a uid there, `_reject`'s HTTP status and an
        empty uid."""
        uid, api_version = peek_uid(start)
        if uid is None:
            await self._reject(send, http_status, error, message)
            return
        self.recorder.record_rejected(self.spec.name, error, message, uid)
        status = st.too_large(message) if http_status == 413 else st.request_timeout(message)
        await _send(send, 200, rsp.errored(error, status), api_version, uid)

    async def _reject(self, send: Send, http_status: int, error: str, message: str) -> None:
        self.recorder.record_rejected(self.spec.name, error, message, None)
        if http_status == 413:
            status = st.too_large(message)
        elif http_status == 408:
            status = st.request_timeout(message)
        elif http_status == 415:
            status = st.unsupported_media_type(message)
        else:
            status = st.bad_request(message)
        await _send(send, http_status, rsp.errored(error, status), None, "")


class _Outcome(NamedTuple):
    """A decided body: the answer to send, and what to record of it (a named tuple: built in
    one step, see `AdmissionRequest`)."""

    http_status: int
    answer: bytes
    request: AdmissionRequest | None
    decision: rsp.Decision
    error: ReviewError | None


async def _send_answer(send: Send, http_status: int, answer: bytes) -> None:
    await send(
        {"type": "http.response.start", "status": http_status, "headers": _json_headers(answer)}
    )
    await send({"type": "http.response.body", "body": answer})


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
    headers = _json_headers(body)
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# A body that did not arrive in time: (HTTP status, error, message) for `_refuse_body`.
_BODY_LATE: Final = (408, "deadline-exceeded", "the request body did not arrive in time")


def _drop_outcome(decided: asyncio.Future[_Outcome | None]) -> None:
    """The outcome of a decision nobody waits for: dropped, a failure too (never left for the
    loop to report as an exception nobody retrieved)."""
    if not decided.cancelled():
        decided.exception()


def _start_of(chunks: list[bytes]) -> bytes:
    """The first `PEEK_BYTES` of a body read in parts, where its uid is looked for."""
    return b"".join(chunks)[:PEEK_BYTES] if len(chunks) > 1 else (chunks[0] if chunks else b"")


def _expects_continue(headers: Iterable[Any]) -> bool:
    """Whether the client waits for `100 Continue` before sending its body (reading the body
    would invite it to send all of it)."""
    return any(name == b"expect" for name, _ in headers)


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [_CONTENT_TYPE_JSON, (b"content-length", b"%d" % len(body))]


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json"
