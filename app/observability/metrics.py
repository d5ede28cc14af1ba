"""The server's Prometheus metrics: one registry per application, each counter recorded
through its one method.

The metric objects live on a `Metrics` instance handed to whoever records, never at module
level, so tests build their own and a second app in one process does not collide. Nothing
outside this class touches a counter: the wiring and the endpoint call its `record_*` methods.
"""

from __future__ import annotations

import bisect
import platform
import time
from collections.abc import Iterator
from importlib import metadata
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

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


class Metrics:
    """Every metric of one server, each recorded through one method."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = DecisionMetrics()
        r.register(self.decisions)
        self._errors = Counter(
            "krw_admission_errors",
            "Requests that could not be decided normally, by webhook and kind of error.",
            ["webhook", "error"],
            registry=r,
        )
        self._tls_reloads = Counter(
            "krw_tls_certificate_reloads",
            "Certificate reload attempts by result (success, error).",
            ["result"],
            registry=r,
        )
        self._tls_expiry = Gauge(
            "krw_tls_certificate_expiry_timestamp_seconds",
            "Expiry time (Unix seconds) of the serving certificate in use.",
            registry=r,
        )
        self._overload = Counter(
            "krw_overload_rejections",
            "Requests answered 429 because no decision slot was free.",
            registry=r,
        )
        self._connections_closed = Counter(
            "krw_connections_closed",
            "Connections the server closed to stay within a limit, by limit.",
            ["reason"],
            registry=r,
        )
        # Every reason from the start, at 0, so that rates and alerts need no absent() guard.
        for reason in CONNECTION_CLOSE_REASONS:
            self._connections_closed.labels(reason)
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

    def record_error(self, webhook: str, error: str) -> None:
        """Count a request that could not be decided normally (`krw_admission_errors_total`)."""
        self._errors.labels(webhook, error).inc()

    def record_tls_reload(self, result: str) -> None:
        """Count a certificate reload attempt (`success` or `error`)."""
        self._tls_reloads.labels(result).inc()

    def record_tls_expiry(self, timestamp: float) -> None:
        """Export the expiry of the certificate now served."""
        self._tls_expiry.set(timestamp)

    def record_overload(self) -> None:
        """Count a request answered 429 for want of a decision slot."""
        self._overload.inc()

    def record_connection_closed(self, reason: str) -> None:
        """Count a connection closed to stay within a limit (`reason`: the limit)."""
        self._connections_closed.labels(reason).inc()


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
