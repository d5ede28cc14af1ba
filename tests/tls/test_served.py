"""ServedCertificate in process: metrics, log lines, readiness and start-up errors."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import ConfigError, Settings
from app.main import Health, create_app
from app.observability.recorder import Observability
from app.server import served_certificate
from app.tls import issuance
from app.tls.issuance import GeneratedCerts
from app.tls.served import ServedCertificate


def generate(out: Path, ca: GeneratedCerts | None = None) -> GeneratedCerts:
    return issuance.generate(
        out,
        dns_names=["localhost"],
        ips=["127.0.0.1"],
        service=None,
        namespace=None,
        ca_cert=ca.ca_cert_file if ca else None,
        ca_key=ca.ca_key_file if ca else None,
    )


@pytest.fixture
def pair(tmp_path: Path) -> GeneratedCerts:
    return generate(tmp_path / "certs")


def settings_for(pair: GeneratedCerts, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "tls_cert_file": pair.cert_file,
        "tls_key_file": pair.key_file,
        "cert_reload_interval": 0.2,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def served_for(
    settings: Settings, observability: Observability, **kwargs: Any
) -> ServedCertificate:
    return ServedCertificate(
        observability,
        cert_file=settings.tls_cert_file,
        key_file=settings.tls_key_file,
        client_ca_file=settings.client_ca_file,
        min_version=settings.tls_min_version,
        reload_interval=settings.cert_reload_interval,
        **kwargs,
    )


def sample(observability: Observability, name: str, **labels: str) -> float | None:
    return observability.registry.get_sample_value(name, labels or None)


def test_the_expiry_gauge_follows_the_served_certificate(
    pair: GeneratedCerts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    observability = Observability()
    served = served_for(settings_for(pair), observability)
    expiry = pair.certificate.not_valid_after_utc.timestamp()
    assert sample(observability, "krw_tls_certificate_expiry_timestamp_seconds") == expiry

    rotated = generate(tmp_path / "rotated", ca=pair)
    pair.key_file.write_bytes(rotated.key_file.read_bytes())
    pair.cert_file.write_bytes(rotated.cert_file.read_bytes())
    with caplog.at_level(logging.INFO):
        assert served.reloader.check_now()

    assert served.certificate.serial_number == rotated.certificate.serial_number
    assert sample(observability, "krw_tls_certificate_reloads_total", result="success") == 1
    assert (
        sample(observability, "krw_tls_certificate_expiry_timestamp_seconds")
        == rotated.certificate.not_valid_after_utc.timestamp()
    )
    assert "serving certificate reloaded" in caplog.text


def test_a_broken_pair_is_counted_and_logged_and_the_gauge_kept(
    pair: GeneratedCerts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    observability = Observability()
    served = served_for(settings_for(pair), observability)
    pair.key_file.write_bytes(generate(tmp_path / "other").key_file.read_bytes())

    with caplog.at_level(logging.WARNING):
        assert not served.reloader.check_now()
        assert not served.reloader.check_now()

    assert sample(observability, "krw_tls_certificate_reloads_total", result="error") == 2
    assert served.certificate.serial_number == pair.certificate.serial_number
    assert (
        sample(observability, "krw_tls_certificate_expiry_timestamp_seconds")
        == pair.certificate.not_valid_after_utc.timestamp()
    )
    assert "still serving the previous pair" in caplog.text
    errors = [getattr(record, "fields", {}).get("error", "") for record in caplog.records]
    assert all("does not match" in error for error in errors)


def test_readiness_fails_once_the_served_certificate_expired(pair: GeneratedCerts) -> None:
    expiry = pair.certificate.not_valid_after_utc
    now = [expiry - timedelta(seconds=1)]
    served = served_for(settings_for(pair), Observability(), clock=lambda: now[0])
    health = Health(started=True, checks=[served.expiry_problem])
    app = create_app(settings_for(pair), health=health)

    async def readyz() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as client:
            return await client.get("/readyz")

    assert asyncio.run(readyz()).status_code == 200
    now[0] = expiry + timedelta(seconds=1)
    response = asyncio.run(readyz())
    assert response.status_code == 503
    assert "serving certificate expired at" in response.text


@pytest.mark.parametrize(
    ("breakage", "setting"),
    [
        pytest.param("cert", "--tls-cert-file", id="certificate not PEM"),
        pytest.param("key", "--tls-key-file", id="key of another certificate"),
        pytest.param("missing-key", "--tls-key-file", id="key missing"),
        pytest.param("ca", "--client-ca-file", id="client CA not PEM"),
    ],
)
def test_a_pair_that_cannot_serve_names_the_setting(
    pair: GeneratedCerts, tmp_path: Path, breakage: str, setting: str
) -> None:
    overrides: dict[str, object] = {}
    if breakage == "cert":
        pair.cert_file.write_text("not a certificate\n")
    elif breakage == "key":
        pair.key_file.write_bytes(generate(tmp_path / "other").key_file.read_bytes())
    elif breakage == "missing-key":
        pair.key_file.unlink()
    else:
        bad_ca = tmp_path / "ca.crt"
        bad_ca.write_text("not a certificate\n")
        overrides["client_ca_file"] = bad_ca

    with pytest.raises(ConfigError) as caught:
        served_certificate(settings_for(pair, **overrides), Observability())
    assert str(caught.value).startswith(setting + " ")
    assert "\n" not in str(caught.value)
