"""The request's deadline, and each webhook call's share of it, as kube-apiserver derives them.

- A write's deadline: the client's `?timeout=` (k8s.io/apiserver `pkg/endpoints/filters/
  request_deadline.go`, `withRequestDeadline`; default and maximum 60 s), then at most 34 s
  (`pkg/endpoints/handlers/create.go` and `update.go`: `context.WithTimeout(ctx,
  requestTimeoutUpperBound)`, `rest.go`: `requestTimeoutUpperBound = 34 * time.Second`).
- When admission and storage have not finished by then, the client gets 504 `Timeout`
  (`pkg/endpoints/handlers/finisher/finisher.go`, `finishRequest`: `request did not complete
  within requested timeout - context deadline exceeded`); the work may still complete behind it,
  as here, where the stand-in stores what it admitted.
- A webhook call's deadline: `timeoutSeconds` within the request's (`context.WithTimeout` on the
  request's context), and its `?timeout=` is what is left of that, rounded up to whole seconds,
  in Go's duration syntax; none when nothing is left (`pkg/admission/plugin/webhook/validating/
  dispatcher.go` and `mutating/dispatcher.go`, `callHook`: `timeout.Truncate(time.Second)`,
  then client-go `rest.Request.Timeout` and `URL`: `timeout.String()`).
"""

from __future__ import annotations

import contextvars
import functools
import math
import time
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeVar

REQUEST_TIMEOUT_UPPER_BOUND: Final = 34.0
REQUEST_TIMEOUT_MAXIMUM: Final = 60.0  # kube-apiserver's --request-timeout default

# The monotonic deadline of the write being admitted (None outside one: no request deadline).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "request_deadline", default=None
)


class _Outcome(Protocol):
    code: int
    status: dict[str, Any] | None
    object: dict[str, Any] | None


Verb = TypeVar("Verb", bound=Callable[..., Any])


def request_seconds(client_timeout: float | None) -> float:
    """How long a write may take: the client's `?timeout=` (0 or none: the maximum), <= 34 s."""
    seconds = REQUEST_TIMEOUT_MAXIMUM
    if client_timeout is not None and 0 < client_timeout < REQUEST_TIMEOUT_MAXIMUM:
        seconds = client_timeout
    return min(seconds, REQUEST_TIMEOUT_UPPER_BOUND)


def finish_request(verb: Verb) -> Verb:
    """Run a verb within its deadline (keyword `timeout`); 504 when it ends after it."""

    @functools.wraps(verb)
    def within_deadline(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + request_seconds(kwargs.get("timeout"))
        token = _DEADLINE.set(deadline)
        try:
            outcome: _Outcome = verb(*args, **kwargs)
        finally:
            _DEADLINE.reset(token)
        if time.monotonic() >= deadline:
            outcome.code, outcome.object = 504, None
            outcome.status = timeout_status(
                "request did not complete within requested timeout - context deadline exceeded"
            )
        return outcome

    return within_deadline  # type: ignore[return-value]


def timeout_status(message: str) -> dict[str, Any]:
    """k8s.io/apimachinery `pkg/api/errors` `NewTimeoutError(message, 0)`."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"Timeout: {message}",
        "reason": "Timeout",
        "details": {},
        "code": 504,
    }


def call_timeout(timeout_seconds: int) -> tuple[float, str]:
    """A call's deadline in seconds from now, and its `?timeout=` value ("" for none)."""
    seconds = float(timeout_seconds)
    deadline = _DEADLINE.get()
    if deadline is not None:
        seconds = min(seconds, deadline - time.monotonic())
    if seconds <= 0:
        return 0.0, ""
    return seconds, go_duration(math.ceil(seconds))


def go_duration(seconds: int) -> str:
    """Go's `time.Duration.String` of whole seconds: 10s, 1m0s, 1h2m3s."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
