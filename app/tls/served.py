"""The serving certificate as the server sees it: reloaded, counted, logged, checked for expiry.

`CertificateReloader` (`reloader`) follows the files; this connects it to the metrics, the log
and readiness, through the small protocols below, so that `tls` still imports nothing of `app`
outside itself. A pair that cannot serve at start-up raises the reloader's `PairFileError`, which
says which file is at fault; the wiring (`app.server`) names the setting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography import x509

from app.tls.pair import utc_now
from app.tls.reloader import CertificateReloader, TLSVersion

# Under the application's logger (`app.observability.logs.LOGGER_NAME`), named here so that
# transport does not import the layers above it.
_log = logging.getLogger("kargo_rollback_webhook.tls")


class CertificateMetrics(Protocol):
    """Where reloads and the served certificate's expiry are counted (`Observability`)."""

    def record_tls_reload(self, result: str) -> None: ...

    def record_tls_expiry(self, timestamp: float) -> None: ...


class ServedCertificate:
    """Owns the reloader; `reloader.context` goes to the server, `run` onto its event loop."""

    def __init__(
        self,
        metrics: CertificateMetrics,
        *,
        cert_file: Path,
        key_file: Path,
        client_ca_file: Path | None,
        min_version: TLSVersion,
        reload_interval: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """Load the pair; raises `PairFileError` (naming the file at fault) if it cannot serve."""
        self._metrics = metrics
        self._clock = clock
        self.reloader = CertificateReloader(
            cert_file=cert_file,
            key_file=key_file,
            client_ca_file=client_ca_file,
            min_version=min_version,
            interval=reload_interval,
            on_reload=self._reloaded,
            on_error=self._reload_failed,
        )
        self._export_expiry(self.reloader.certificate)

    @property
    def certificate(self) -> x509.Certificate:
        return self.reloader.certificate

    def expiry_problem(self) -> str | None:
        """A readiness check: the reason not to be ready once the served certificate expired.

        Every client refuses an expired certificate, so serving on would only turn each call into
        a TLS error; failing readiness lets the rollout or an alert show where the problem is.
        """
        expiry = self.reloader.certificate.not_valid_after_utc
        if self._clock() > expiry:
            return f"serving certificate expired at {expiry:%Y-%m-%dT%H:%M:%SZ}"
        return None

    def _reloaded(self, certificate: x509.Certificate) -> None:
        self._metrics.record_tls_reload("success")
        self._export_expiry(certificate)
        _log.info(
            "serving certificate reloaded",
            extra={
                "fields": {
                    "serial": f"{certificate.serial_number:x}",
                    "subject": certificate.subject.rfc4514_string(),
                    "not_after": certificate.not_valid_after_utc.isoformat(),
                }
            },
        )

    def _reload_failed(self, message: str) -> None:
        # The reloader reports a broken pair at every poll while it lasts, so the counter keeps
        # rising and the log keeps saying why, for as long as the old pair is still served.
        self._metrics.record_tls_reload("error")
        _log.warning(
            "certificate files cannot be served; still serving the previous pair",
            extra={"fields": {"error": message}},
        )

    def _export_expiry(self, certificate: x509.Certificate) -> None:
        self._metrics.record_tls_expiry(certificate.not_valid_after_utc.timestamp())
