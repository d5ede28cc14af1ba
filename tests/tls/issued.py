"""Certificates issued by `certs generate`'s code, for the tests of what reads and checks them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.tls import issuance
from app.tls.issuance import GeneratedCerts

# A moment long past, for certificates that have expired by now.
PAST = datetime(2020, 1, 1, tzinfo=UTC)


def generate(out: Path, **overrides: object) -> GeneratedCerts:
    """A CA and serving pair in `out`, for localhost, 127.0.0.1 and a Service, valid 30 days."""
    arguments: dict[str, object] = {
        "dns_names": ["localhost"],
        "ips": ["127.0.0.1"],
        "service": "rollback-webhook",
        "namespace": "kargo",
        "days": 30,
    }
    arguments.update(overrides)
    return issuance.generate(out, **arguments)  # type: ignore[arg-type]
