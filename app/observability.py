"""Metrics and decision logs: one registry per application, one JSON line per decision.

The metric objects live on an `Observability` instance handed to whoever records, never at
module level, so tests build their own and a second app in one process does not collide.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import platform
import sys
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Final

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.admission.responses import Decision
from app.admission.review import AdmissionRequest

# Finer than the API server's own webhook latency buckets (5 ms, 25 ms, 100 ms, ...) below 5 ms,
# where a healthy webhook's answers fall, so a regression from 0.5 ms to 3 ms is visible.
LATENCY_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

LOGGER_NAME: Final = "kargo_rollback_webhook"


def package_version() -> str:
    try:
        return metadata.version("kargo-rollback-webhook")
    except metadata.PackageNotFoundError:
        return "unknown"


class Observability:
    """Prometheus metrics and the decision log of one server."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        decision_sink: Callable[[bytes], object] | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        # Decision lines bypass the logging module: a LogRecord, findCaller and a formatter cost
        # a third of a request's own time; the line written is the same JSON a record would be.
        self._decision_sink = decision_sink or LineBuffer(_write_stderr)
        self._clock = _LineClock()
        r = self.registry
        self.requests = Counter(
            "krw_admission_requests",
            "Admission reviews answered, by webhook, operation and decision.",
            ["webhook", "operation", "decision"],
            registry=r,
        )
        self.latency = Histogram(
            "krw_admission_duration_seconds",
            "Time from the full request body to the answer, by webhook.",
            ["webhook"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.guard_actions = Counter(
            "krw_rollback_guard_actions",
            "Rollback-annotation guard actions: stripped, restored, denied.",
            ["webhook", "action"],
            registry=r,
        )
        self.errors = Counter(
            "krw_admission_errors",
            "Requests that could not be decided normally, by webhook and kind of error.",
            ["webhook", "error"],
            registry=r,
        )
        self.tls_reloads = Counter(
            "krw_tls_certificate_reloads",
            "Certificate reload attempts by result (success, error).",
            ["result"],
            registry=r,
        )
        self.tls_expiry = Gauge(
            "krw_tls_certificate_expiry_timestamp_seconds",
            "Expiry time (Unix seconds) of the serving certificate in use.",
            registry=r,
        )
        self.overload = Counter(
            "krw_overload_rejections",
            "Requests answered 503 because the concurrency limit was reached.",
            registry=r,
        )
        build = Gauge(
            "krw_build_info",
            "Build information; the value is always 1.",
            ["version", "python"],
            registry=r,
        )
        build.labels(version=package_version(), python=platform.python_version()).set(1)
        self.log = logging.getLogger(LOGGER_NAME)
        # Children resolved once per label set: `labels()` hashes and locks on every call.
        self._request_children: dict[tuple[str, str, str], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self._guard_children: dict[tuple[str, str], Counter] = {}

    def record(
        self,
        webhook: str,
        request: AdmissionRequest,
        decision: Decision,
        duration: float,
    ) -> None:
        """Count, time and log one decision."""
        key = (webhook, request.operation, decision.outcome)
        child = self._request_children.get(key)
        if child is None:
            child = self.requests.labels(*key)
            self._request_children[key] = child
        child.inc()
        latency = self._latency_children.get(webhook)
        if latency is None:
            latency = self._latency_children[webhook] = self.latency.labels(webhook)
        latency.observe(duration)
        action = decision.guard_action
        if action is not None:
            guard = self._guard_children.get((webhook, action))
            if guard is None:
                guard = self._guard_children[(webhook, action)] = self.guard_actions.labels(
                    webhook, action
                )
            guard.inc()
        if decision.outcome == "error":
            self.errors.labels(webhook, decision.reason).inc()
        if self.log.isEnabledFor(logging.INFO):
            line = {
                "ts": self._clock.now(),
                "level": "info",
                "logger": LOGGER_NAME,
                "msg": "admission decision",
                "webhook": webhook,
                "uid": request.uid,
                "kind": request.kind.kind,
                "namespace": request.namespace,
                "name": request.name,
                "operation": request.operation,
                "username": request.username,
                "dry_run": request.dry_run,
                "decision": decision.outcome,
                "reason": decision.reason,
                "duration_ms": round(duration * 1000, 3),
            }
            self._decision_sink(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))

    def flush(self) -> None:
        """Write out buffered decision lines (at shutdown)."""
        flush = getattr(self._decision_sink, "flush", None)
        if flush is not None:
            flush()

    def record_rejected(self, webhook: str, error: str, message: str, uid: str | None) -> None:
        """Count and log a request that never reached a decision (bad body, too large, ...)."""
        self.errors.labels(webhook, error).inc()
        self.log.warning(
            "admission request rejected",
            extra={"fields": {"webhook": webhook, "error": error, "uid": uid, "detail": message}},
        )

    def record_exception(self, webhook: str, uid: str) -> None:
        """Log the exception being handled, with its traceback but never the object."""
        self.log.exception(
            "policy raised an exception", extra={"fields": {"webhook": webhook, "uid": uid}}
        )


def _write_stderr(data: bytes) -> None:
    # Flush what the logging module buffered first, so lines keep their order.
    stream = sys.stderr
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:  # a text-only stream (tests replacing stderr)
        stream.write(data.decode())
    else:
        buffer.write(data)
        buffer.flush()


class LineBuffer:
    """Collects decision lines and writes them in batches: one system call per batch.

    A write per request costs about a tenth of a request's time. Lines wait at most
    `max_delay` seconds (a timer on the running event loop) or until `max_bytes` have
    gathered; without a running loop (the `check` command, tests) each line is written at once.
    `flush()` runs at application shutdown and at exit, so no line is lost on a clean stop.
    """

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        max_bytes: int = 64 * 1024,
        max_delay: float = 0.05,
    ) -> None:
        self._write = write
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def __call__(self, line: bytes) -> None:
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self._max_bytes:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self._max_delay, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._lines:
            data = b"".join(self._lines)
            self._lines.clear()
            self._size = 0
            self._write(data)


class _LineClock:
    """`2026-11-26T14:40:01.123Z`, formatting the seconds part once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        stamp = time.time()
        second = int(stamp)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((stamp - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr for our logger and uvicorn's; uvicorn's access log is off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
