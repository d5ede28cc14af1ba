"""Metrics and decision logs: one registry per application, one JSON line per decision.

The metric objects live on an `Observability` instance handed to whoever records, never at
module level, so tests build their own and a second app in one process does not collide.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import logging
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Final, final

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from app.admission.responses import Decision
from app.admission.review import AdmissionRequest
from app.serving import body_budget, connections, write_stall

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

# The `reason` label of `krw_connections_closed_total`: the limit the closed connection was over.
CONNECTION_CLOSE_REASONS: Final = (
    connections.REASON_TOTAL,
    connections.REASON_PER_CLIENT,
    body_budget.REASON,
    write_stall.REASON_WRITE_TIMEOUT,
)


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
        write_decisions: Callable[[bytes], object] | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        # Decision lines bypass the logging module: a LogRecord, findCaller and a formatter cost
        # a third of a request's own time; the line written is the same JSON a record would be.
        self.decision_log = DecisionLog(write_decisions or _write_stderr)
        r = self.registry
        self.decisions = DecisionMetrics()
        r.register(self.decisions)
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
            "Requests answered 429 because no decision slot was free.",
            registry=r,
        )
        self.connections_closed = Counter(
            "krw_connections_closed",
            "Connections the server closed to stay within a limit, by limit.",
            ["reason"],
            registry=r,
        )
        # Every reason from the start, at 0, so that rates and alerts need no absent() guard.
        for reason in CONNECTION_CLOSE_REASONS:
            self.connections_closed.labels(reason)
        build = Gauge(
            "krw_build_info",
            "Build information; the value is always 1.",
            ["version", "python"],
            registry=r,
        )
        build.labels(version=package_version(), python=platform.python_version()).set(1)
        # The standard process metrics every Prometheus-instrumented server exports (memory, CPU,
        # open file descriptors, start time), read from /proc at scrape time only: the
        # dashboard's memory and CPU panels and capacity planning use them.
        ProcessCollector(registry=r)
        self.log = logging.getLogger(LOGGER_NAME)

    def record(
        self,
        webhook: str,
        request: AdmissionRequest,
        decision: Decision,
        duration: float,
    ) -> None:
        """Count, time and log one decision."""
        outcome = decision.outcome
        self.decisions.record(webhook, request.operation, outcome, decision.guard_action, duration)
        if outcome == "error":
            self.errors.labels(webhook, decision.why).inc()
        if self.log.isEnabledFor(logging.INFO):
            self.decision_log(
                DecisionEntry(
                    time=time.time(),
                    webhook=webhook,
                    uid=request.uid,
                    kind=request.kind.kind,
                    namespace=request.namespace,
                    name=request.name,
                    operation=request.operation,
                    username=request.username,
                    dry_run=request.dry_run,
                    decision=outcome,
                    reason=decision.why,
                    duration=duration,
                )
            )

    def record_tls_reload(self, result: str) -> None:
        """Count a certificate reload attempt (`success` or `error`)."""
        self.tls_reloads.labels(result).inc()

    def record_tls_expiry(self, timestamp: float) -> None:
        """Export the expiry of the certificate now served."""
        self.tls_expiry.set(timestamp)

    def flush(self) -> None:
        """Write out buffered decision lines (at shutdown)."""
        self.decision_log.flush()

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


class _WebhookStats:
    """One webhook's decision counts and latency histogram, as plain numbers."""

    __slots__ = ("buckets", "created", "guard_actions", "requests", "total_seconds")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.guard_actions: dict[str, int] = {}
        # Per bucket, not cumulative; the last one is +Inf.
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total_seconds = 0.0
        self.created = time.time()


class DecisionMetrics(Collector):
    """`krw_admission_requests_total`, `krw_admission_duration_seconds` and
    `krw_rollback_guard_actions_total`, kept as plain numbers and exported at scrape time.

    These three move on every request. prometheus-client's `Counter` and `Histogram` take a
    lock on each increment and a histogram finds its bucket by a loop in Python; together that
    was a tenth of a request's own time. Here a record is a few dict and list updates and a
    `bisect`. No lock is needed: decisions are recorded on the event loop thread only (an
    offloaded decision is recorded after the loop gets its result back), and a scrape that
    runs meanwhile on another thread sees each number either before or after an increment.
    The exposition is what prometheus-client would write for the same metrics, `_created`
    samples included (their time is when the webhook's first decision was recorded, not when
    each label set first appeared).
    """

    def __init__(self) -> None:
        self._webhooks: dict[str, _WebhookStats] = {}

    def record(
        self,
        webhook: str,
        operation: str,
        outcome: str,
        guard_action: str | None,
        duration: float,
    ) -> None:
        stats = self._webhooks.get(webhook)
        if stats is None:
            stats = self._webhooks[webhook] = _WebhookStats()
        key = (operation, outcome)
        requests = stats.requests
        requests[key] = requests.get(key, 0) + 1
        # The first bucket whose bound is >= duration (`le`); past the last bound, +Inf.
        stats.buckets[bisect.bisect_left(LATENCY_BUCKETS, duration)] += 1
        stats.total_seconds += duration
        if guard_action is not None:
            actions = stats.guard_actions
            actions[guard_action] = actions.get(guard_action, 0) + 1

    def describe(self) -> Iterator[Metric]:
        return self._families()

    def collect(self) -> Iterator[Metric]:
        return self._families()

    def _families(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "krw_admission_requests",
            "Admission reviews answered, by webhook, operation and decision.",
            labels=["webhook", "operation", "decision"],
        )
        latency = HistogramMetricFamily(
            "krw_admission_duration_seconds",
            "Time from the full request body to the answer, by webhook.",
            labels=["webhook"],
        )
        guard = CounterMetricFamily(
            "krw_rollback_guard_actions",
            "Rollback-annotation guard actions: stripped, restored, denied.",
            labels=["webhook", "action"],
        )
        bounds = [*[_bound_label(b) for b in LATENCY_BUCKETS], "+Inf"]
        # Copies first: the loop thread may add a key while this iterates (a scrape on it
        # cannot interleave, but a scrape from another thread could).
        for webhook, stats in list(self._webhooks.items()):
            for (operation, outcome), count in list(stats.requests.items()):
                requests.add_metric([webhook, operation, outcome], count, created=stats.created)
            cumulative, buckets = 0, []
            for bound, count in zip(bounds, list(stats.buckets), strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            latency.add_metric([webhook], buckets, sum_value=stats.total_seconds)
            # `add_metric` of a histogram family takes no creation time; a Histogram writes one.
            latency.samples.append(
                Sample(f"{latency.name}_created", {"webhook": webhook}, stats.created)
            )
            for action, count in list(stats.guard_actions.items()):
                guard.add_metric([webhook, action], count, created=stats.created)
        yield requests
        yield latency
        yield guard


def _bound_label(bound: float) -> str:
    """A bucket bound as prometheus-client writes it in `le` (`0.0005`, `1.0`, `10.0`)."""
    return repr(float(bound))


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


@final
class DecisionEntry:
    """What `Observability.record` keeps of a decision until its line is written.

    A plain class: compiled, it is built in one native call on the hot path, and read by name
    when formatted. Written out by hand on purpose: a named tuple's constructor runs as
    interpreted Python, and a dataclass compiled by mypyc made `Observability.record` about
    0.8 µs slower.
    """

    __slots__ = (
        "decision",
        "dry_run",
        "duration",
        "kind",
        "name",
        "namespace",
        "operation",
        "reason",
        "time",
        "uid",
        "username",
        "webhook",
    )

    def __init__(
        self,
        *,
        time: float,  # Unix seconds
        webhook: str,
        uid: str,
        kind: str,
        namespace: str,
        name: str,
        operation: str,
        username: str,
        dry_run: bool,
        decision: str,
        reason: str,
        duration: float,  # seconds
    ) -> None:
        self.time = time
        self.webhook = webhook
        self.uid = uid
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.operation = operation
        self.username = username
        self.dry_run = dry_run
        self.decision = decision
        self.reason = reason
        self.duration = duration


class DecisionLog:
    """The decision log: one JSON line per decision, formatted and written in batches.

    A request only appends a tuple; the lines are formatted and written together, in one
    system call, at most `max_delay` seconds later (a timer on the running event loop) or once
    `max_entries` are waiting. Formatting a line in the request cost as much as deciding it,
    most of it in cold caches between requests; a batch is formatted in one warm loop. Without
    a running loop (the `check` command, tests) each line is written at once. `flush()` runs at
    application shutdown and at exit, so no line is lost on a clean stop.
    """

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        max_entries: int = 128,
        max_delay: float = 0.05,
    ) -> None:
        self._write = write
        self._max_entries = max_entries
        self._max_delay = max_delay
        self._entries: list[DecisionEntry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._clock = _LineClock()
        atexit.register(self.flush)

    def __call__(self, entry: DecisionEntry) -> None:
        entries = self._entries
        entries.append(entry)
        if len(entries) >= self._max_entries:
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
        if self._entries:
            entries, self._entries = self._entries, []
            # Appended one by one: each line's bytes are freed at once and their memory reused;
            # a list of hundreds of them cost three times as much per line.
            batch = bytearray()
            for entry in entries:
                batch += self._line(entry)
            self._write(bytes(batch))

    def _line(self, entry: DecisionEntry) -> bytes:
        return orjson.dumps(
            {
                "ts": self._clock.format(entry.time),
                "level": "info",
                "logger": LOGGER_NAME,
                "msg": "admission decision",
                "webhook": entry.webhook,
                "uid": entry.uid,
                "kind": entry.kind,
                "namespace": entry.namespace,
                "name": entry.name,
                "operation": entry.operation,
                "username": entry.username,
                "dry_run": entry.dry_run,
                "decision": entry.decision,
                "reason": entry.reason,
                # Milliseconds to the microsecond (`round(x, 3)` costs three times as much).
                "duration_ms": round(entry.duration * 1_000_000) / 1000,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )


class _LineClock:
    """`2026-11-26T14:40:01.123Z` for a Unix time; formatted once per millisecond (a busy
    webhook's decisions share one), the date and time part once per second."""

    def __init__(self) -> None:
        self._millisecond = -1
        self._second = -1
        self._prefix = ""
        self._text = ""

    def format(self, stamp: float) -> str:
        millisecond = int(stamp * 1000)
        if millisecond != self._millisecond:
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._text = f"{self._prefix}.{fraction:03d}Z"
        return self._text


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
