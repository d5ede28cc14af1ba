"""What the endpoint and the wiring record through: the metrics, the decision log, the log.

One `Observability` per server, handed to whoever records. It owns no metric itself: each is
recorded through its method on `Metrics`, each decision line through `DecisionLog`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry

from app.admission.responses import Decision
from app.admission.review import AdmissionRequest
from app.observability.decision_log import DecisionEntry, DecisionLog, write_stderr
from app.observability.logs import LOGGER_NAME
from app.observability.metrics import Metrics


class Observability:
    """Prometheus metrics and the decision log of one server."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        write_decisions: Callable[[bytes], object] | None = None,
    ) -> None:
        self.metrics = Metrics(registry)
        self.registry = self.metrics.registry
        self.decision_log = DecisionLog(write_decisions or write_stderr)
        self._decisions = self.metrics.decisions
        self.log = logging.getLogger(LOGGER_NAME)
        self._actions: dict[str, Mapping[str, str]] = {}

    def count_actions(self, webhook: str, actions: Mapping[str, str]) -> None:
        """Count `webhook`'s decisions whose `why` is a key of `actions` as that action."""
        self._actions[webhook] = actions

    def record(
        self,
        webhook: str,
        request: AdmissionRequest,
        decision: Decision,
        duration: float,
    ) -> None:
        """Count, time and log one decision."""
        outcome = decision.outcome
        actions = self._actions.get(webhook)
        action = actions.get(decision.why) if actions is not None else None
        self._decisions.record(webhook, request.operation, outcome, action, duration)
        if outcome == "error":
            self.metrics.record_error(webhook, decision.why)
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
        self.metrics.record_tls_reload(result)

    def record_tls_expiry(self, timestamp: float) -> None:
        """Export the expiry of the certificate now served."""
        self.metrics.record_tls_expiry(timestamp)

    def flush(self) -> None:
        """Write out buffered decision lines (at shutdown)."""
        self.decision_log.flush()

    def record_rejected(self, webhook: str, error: str, message: str, uid: str | None) -> None:
        """Count and log a request that never reached a decision (bad body, too large, ...)."""
        self.metrics.record_error(webhook, error)
        self.log.warning(
            "admission request rejected",
            extra={"fields": {"webhook": webhook, "error": error, "uid": uid, "detail": message}},
        )

    def record_exception(self, webhook: str, uid: str) -> None:
        """Log the exception being handled, with its traceback but never the object."""
        self.log.exception(
            "policy raised an exception", extra={"fields": {"webhook": webhook, "uid": uid}}
        )
