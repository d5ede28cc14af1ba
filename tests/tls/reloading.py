"""A certificate reloader under test, and pairs to rotate it to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from app.tls import issuance
from app.tls.issuance import GeneratedCerts
from app.tls.reloader import CertificateReloader, TLSVersion
from tests.support import pki

PAST = datetime(2020, 1, 1, tzinfo=UTC)


def generate(out: Path, *, ca: GeneratedCerts | None = None, **overrides: object) -> GeneratedCerts:
    """A pair for `localhost`; with `ca`, issued by that CA, as a rotation usually is."""
    arguments: dict[str, object] = {
        "dns_names": ["localhost"],
        "ips": [],
        "service": None,
        "namespace": None,
    }
    if ca is not None:
        arguments.update(ca_cert=ca.ca_cert_file, ca_key=ca.ca_key_file)
    arguments.update(overrides)
    return issuance.generate(out, **arguments)  # type: ignore[arg-type]


def serial(path: Path) -> int:
    return pki.load_certificate(path).serial_number


@dataclass
class Recorder:
    """Collects what the reloader reports, as the server's logger and metrics would."""

    reloads: list[x509.Certificate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def reloader(
        self,
        certs: GeneratedCerts,
        *,
        client_ca_file: Path | None = None,
        min_version: TLSVersion = "1.2",
        interval: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> CertificateReloader:
        return CertificateReloader(
            cert_file=certs.cert_file,
            key_file=certs.key_file,
            client_ca_file=client_ca_file,
            min_version=min_version,
            interval=interval,
            on_reload=self.reloads.append,
            on_error=self.errors.append,
            **({"clock": clock} if clock else {}),
        )
