"""Metrics and decision logs: one registry per application, one JSON line per decision.

The metric objects live on an `Observability` instance handed to whoever records, never at
module level, so tests build their own and a second app in one process does not collide.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections.abc import Mapping
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

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
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
        self._request_children: dict[tuple[str, str, str], Counter] = {}

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
        self.latency.labels(webhook).observe(duration)
        if decision.guard_action is not None:
            self.guard_actions.labels(webhook, decision.guard_action).inc()
        if decision.outcome == "error":
            self.errors.labels(webhook, decision.reason).inc()
        if self.log.isEnabledFor(logging.INFO):
            self.log.info(
                "admission decision",
                extra={
                    "fields": {
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
                },
            )

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
