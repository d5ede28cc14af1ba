"""`certs inspect`'s code: the checks it runs and the certificates each one catches."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.tls import inspection
from app.tls.issuance import GeneratedCerts
from app.tls.pair import CertificateError
from tests.support import pki
from tests.tls.issued import PAST, generate


def failed(report: inspection.InspectionReport) -> list[str]:
    return [check.name for check in report.failures]


def test_inspect_passes_a_good_pair(certs: GeneratedCerts) -> None:
    report = inspection.inspect(
        certs.cert_file,
        key=certs.key_file,
        ca_bundle=certs.ca_cert_file,
        dns_name="rollback-webhook.kargo.svc",
    )

    assert report.passed, report.failures
    assert report.key_matches is True
    assert report.chains_to_ca is True
    assert report.valid_for_dns_name is True
    assert not report.expired
    assert report.subject == "CN=localhost"
    assert report.ip_addresses == ("127.0.0.1",)
    assert [check.name for check in report.checks] == [
        "validity",
        "subjectAltName",
        "key",
        "chain",
        "dns name",
    ]


def test_inspect_runs_only_requested_checks(certs: GeneratedCerts) -> None:
    report = inspection.inspect(certs.cert_file)

    assert report.passed
    assert report.key_matches is None
    assert report.chains_to_ca is None
    assert report.valid_for_dns_name is None


def test_inspect_catches_a_wrong_san(certs: GeneratedCerts) -> None:
    report = inspection.inspect(certs.cert_file, dns_name="webhook.other.svc")

    assert failed(report) == ["dns name"]
    assert report.valid_for_dns_name is False
    assert "rollback-webhook.kargo.svc" in report.failures[0].detail


def test_inspect_catches_a_key_that_does_not_match(certs: GeneratedCerts, tmp_path: Path) -> None:
    other = generate(tmp_path / "other")

    report = inspection.inspect(certs.cert_file, key=other.key_file)

    assert failed(report) == ["key"]
    assert report.key_matches is False


def test_inspect_catches_an_expired_certificate(tmp_path: Path) -> None:
    old = generate(tmp_path, days=1, now=PAST)

    report = inspection.inspect(old.cert_file, key=old.key_file, ca_bundle=old.ca_cert_file)

    assert report.expired
    assert failed(report) == ["validity"]
    assert "expired at 2020-01-02" in report.failures[0].detail


def test_inspect_catches_a_certificate_not_yet_valid(certs: GeneratedCerts) -> None:
    report = inspection.inspect(certs.cert_file, now=PAST)

    assert failed(report) == ["validity"]
    assert "not valid before" in report.failures[0].detail


def test_inspect_catches_a_certificate_from_another_ca(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    other = generate(tmp_path / "other")

    report = inspection.inspect(certs.cert_file, ca_bundle=other.ca_cert_file)

    assert failed(report) == ["chain"]
    assert report.chains_to_ca is False
    assert "is the issuer" in report.failures[0].detail


def test_inspect_catches_a_forged_issuer_name(certs: GeneratedCerts, tmp_path: Path) -> None:
    cert, _ = pki.impostor_pair(certs.ca_cert_file, tmp_path / "impostor")

    report = inspection.inspect(cert, ca_bundle=certs.ca_cert_file)

    assert failed(report) == ["chain"]
    assert "signature does not verify" in report.failures[0].detail


def test_inspect_finds_the_issuer_in_a_bundle_of_several(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    other = generate(tmp_path / "other")
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(other.ca_cert_file.read_bytes() + certs.ca_cert_file.read_bytes())

    assert inspection.inspect(certs.cert_file, ca_bundle=bundle).chains_to_ca is True


def test_inspect_catches_a_cn_only_certificate(tmp_path: Path) -> None:
    cert = pki.cn_only_certificate(tmp_path)

    report = inspection.inspect(cert, dns_name="webhook.kargo.svc")

    assert failed(report) == ["subjectAltName", "dns name"]
    assert "1.19" in report.failures[0].detail


@pytest.mark.parametrize(
    ("pattern", "host", "matches"),
    [
        ("webhook.kargo.svc", "webhook.kargo.svc", True),
        ("Webhook.Kargo.svc", "webhook.kargo.SVC.", True),
        ("*.kargo.svc", "webhook.kargo.svc", True),
        ("*.kargo.svc", "kargo.svc", False),
        ("*.kargo.svc", "a.webhook.kargo.svc", False),
        ("w*.kargo.svc", "webhook.kargo.svc", False),
        ("*.*.svc", "webhook.kargo.svc", False),
        ("webhook.kargo.svc", "webhook.kargo", False),
    ],
)
def test_dns_pattern_matching(pattern: str, host: str, matches: bool) -> None:
    assert inspection.dns_pattern_matches(pattern, host) is matches


def test_ip_host_matches_ip_sans_only(certs: GeneratedCerts) -> None:
    certificate = pki.load_certificate(certs.cert_file)

    assert inspection.certificate_matches_host(certificate, "127.0.0.1")
    assert not inspection.certificate_matches_host(certificate, "127.0.0.2")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read certificate: No such file", id="missing"),
        pytest.param(b"", "file is empty", id="empty"),
        pytest.param(b"hello", "not a PEM certificate", id="not pem"),
        pytest.param(b"-----BEGIN CERTIFICATE-----\nMIIB", "truncated", id="truncated"),
    ],
)
def test_inspect_refuses_unreadable_certificates(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    cert = tmp_path / "tls.crt"
    if content is not None:
        cert.write_bytes(content)

    with pytest.raises(CertificateError, match=message) as raised:
        inspection.inspect(cert)
    assert str(cert) in str(raised.value)


def test_inspect_refuses_an_unreadable_key_or_bundle(certs: GeneratedCerts, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"garbage\n")

    with pytest.raises(CertificateError, match="not a PEM private key"):
        inspection.inspect(certs.cert_file, key=garbage)
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        inspection.inspect(certs.cert_file, ca_bundle=garbage)
