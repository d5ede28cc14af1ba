"""The serving certificate as the server sees it: reloaded, counted, logged, checked for expiry.

`CertificateReloader` (app/tls) follows the files; this connects it to the metrics, the log and
readiness, and turns a pair that cannot serve at start-up into the one-line error that names the
setting, before anything listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from app.config import ConfigError, Settings
from app.observability import LOGGER_NAME, Observability
from app.tls.certificates import CertificateError
from app.tls.reloader import CertificateReloader

_log = logging.getLogger(f"{LOGGER_NAME}.tls")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ServedCertificate:
    """Owns the reloader; `reloader.context` goes to the server, `run` onto its event loop."""

    def __init__(
        self,
        settings: Settings,
        observability: Observability,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Load the pair; raises `ConfigError` naming the setting when it cannot serve."""
        self._observability = observability
        self._clock = clock
        try:
            self.reloader = CertificateReloader(
                cert_file=settings.tls_cert_file,
                key_file=settings.tls_key_file,
                client_ca_file=settings.client_ca_file,
                min_version=settings.tls_min_version,
                interval=settings.cert_reload_interval,
                on_reload=self._reloaded,
                on_error=self._reload_failed,
            )
        except CertificateError as exc:
            raise ConfigError(_setting_of(str(exc), settings), str(exc)) from None
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
        self._observability.tls_reloads.labels("success").inc()
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
        self._observability.tls_reloads.labels("error").inc()
        _log.warning(
            "certificate files cannot be served; still serving the previous pair",
            extra={"fields": {"error": message}},
        )

    def _export_expiry(self, certificate: x509.Certificate) -> None:
        self._observability.tls_expiry.set(certificate.not_valid_after_utc.timestamp())


def _setting_of(message: str, settings: Settings) -> str:
    """Which setting a `CertificateError` is about: its message starts with the file's path."""
    candidates: list[tuple[str, object]] = [
        ("tls-key-file", settings.tls_key_file),
        ("client-ca-file", settings.client_ca_file),
    ]
    for setting, path in candidates:
        if path is not None and message.startswith(f"{path}:"):
            return setting
    return "tls-cert-file"
