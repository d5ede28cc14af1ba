from __future__ import annotations

import base64
import ssl
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from app.tls import certificates
from app.tls.certificates import CertificateError, GeneratedCerts
from tests.tls import pki
from tests.tls.handshakes import client_context, echo_server, exchange, serving_context

PAST = datetime(2020, 1, 1, tzinfo=UTC)


def generate(out: Path, **overrides: object) -> GeneratedCerts:
    arguments: dict[str, object] = {
        "dns_names": ["localhost"],
        "ips": ["127.0.0.1"],
        "service": "rollback-webhook",
        "namespace": "kargo",
        "days": 30,
    }
    arguments.update(overrides)
    return certificates.generate(out, **arguments)  # type: ignore[arg-type]


@pytest.fixture
def certs(tmp_path: Path) -> GeneratedCerts:
    return generate(tmp_path / "certs")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sans(certificate: x509.Certificate) -> x509.SubjectAlternativeName:
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


# --- generate ----------------------------------------------------------------------------------


def test_generate_writes_the_four_files_keys_private(tmp_path: Path) -> None:
    out = tmp_path / "new" / "certs"
    result = generate(out)

    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    assert mode(out) == 0o700
    assert mode(result.ca_key_file) == 0o600
    assert mode(result.key_file) == 0o600
    assert mode(result.ca_cert_file) == 0o644
    assert mode(result.cert_file) == 0o644
    assert base64.b64decode(result.ca_bundle) == result.ca_cert_file.read_bytes()
    assert result.ca_created


def test_serving_certificate_names_service_dns_names_and_ips(certs: GeneratedCerts) -> None:
    certificate = pki.load_certificate(certs.cert_file)
    names = sans(certificate)

    assert names.get_values_for_type(x509.DNSName) == [
        "localhost",
        "rollback-webhook",
        "rollback-webhook.kargo",
        "rollback-webhook.kargo.svc",
        "rollback-webhook.kargo.svc.cluster.local",
    ]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert certificate.subject.rfc4514_string() == "CN=localhost"


def test_serving_certificate_profile(certs: GeneratedCerts) -> None:
    certificate = pki.load_certificate(certs.cert_file)
    ca = pki.load_certificate(certs.ca_cert_file)
    extensions = certificate.extensions

    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key_usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    # Backdated a few minutes for clock skew, valid for the requested days.
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == timedelta(days=30) + certificates.BACKDATE


def test_ca_profile(certs: GeneratedCerts) -> None:
    ca = pki.load_certificate(certs.ca_cert_file)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)

    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.subject == ca.issuer
    # Outlives the serving certificate so it can be re-used for re-issuing.
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > timedelta(days=365)


def test_chain_passes_a_strict_rfc5280_verifier(certs: GeneratedCerts) -> None:
    verifier = (
        PolicyBuilder()
        .store(Store([pki.load_certificate(certs.ca_cert_file)]))
        .build_server_verifier(x509.DNSName("rollback-webhook.kargo.svc"))
    )

    chain = verifier.verify(pki.load_certificate(certs.cert_file), [])

    assert len(chain) == 2


@pytest.mark.parametrize(
    "server_hostname",
    [
        "rollback-webhook.kargo.svc",
        "rollback-webhook",
        "rollback-webhook.kargo",
        "rollback-webhook.kargo.svc.cluster.local",
        "localhost",
        "127.0.0.1",
    ],
)
def test_handshake_verifies_against_ca_bundle(certs: GeneratedCerts, server_hostname: str) -> None:
    with echo_server(serving_context(certs.cert_file, certs.key_file), "threads") as port:
        served = exchange(
            port, client_context(cafile=certs.ca_cert_file), server_hostname=server_hostname
        )

    assert served.serial_number == pki.load_certificate(certs.cert_file).serial_number


def test_handshake_fails_for_a_name_not_in_the_certificate(certs: GeneratedCerts) -> None:
    with (
        echo_server(serving_context(certs.cert_file, certs.key_file), "threads") as port,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        exchange(port, client_context(cafile=certs.ca_cert_file), server_hostname="other.kargo.svc")


def test_handshake_fails_against_another_ca(certs: GeneratedCerts, tmp_path: Path) -> None:
    other = generate(tmp_path / "other")
    with (
        echo_server(serving_context(certs.cert_file, certs.key_file), "threads") as port,
        pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"),
    ):
        exchange(port, client_context(cafile=other.ca_cert_file), server_hostname="localhost")


def test_reissue_from_the_ca_in_out_dir_keeps_ca_crt(certs: GeneratedCerts) -> None:
    ca_before = certs.ca_cert_file.read_bytes()
    ca_key_before = certs.ca_key_file.read_bytes()
    serving_before = certs.cert_file.read_bytes()

    again = generate(certs.cert_file.parent, ca_cert=certs.ca_cert_file, ca_key=certs.ca_key_file)

    assert not again.ca_created
    assert certs.ca_cert_file.read_bytes() == ca_before
    assert certs.ca_key_file.read_bytes() == ca_key_before
    assert again.ca_bundle == certs.ca_bundle
    assert certs.cert_file.read_bytes() != serving_before
    report = certificates.inspect(again.cert_file, key=again.key_file, ca_bundle=again.ca_cert_file)
    assert report.passed, report.failures


def test_reissue_from_a_ca_elsewhere_copies_it_byte_for_byte(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    copy = generate(tmp_path / "copy", ca_cert=certs.ca_cert_file, ca_key=certs.ca_key_file)

    assert copy.ca_cert_file.read_bytes() == certs.ca_cert_file.read_bytes()
    assert copy.ca_key_file.read_bytes() == certs.ca_key_file.read_bytes()
    assert mode(copy.ca_key_file) == 0o600
    assert copy.ca_bundle == certs.ca_bundle


def test_generate_without_ca_flags_replaces_the_ca(certs: GeneratedCerts) -> None:
    again = generate(certs.cert_file.parent)

    assert again.ca_created
    assert again.ca_bundle != certs.ca_bundle


def test_generate_leaves_no_temporary_files(certs: GeneratedCerts) -> None:
    generate(certs.cert_file.parent, ca_cert=certs.ca_cert_file, ca_key=certs.ca_key_file)

    assert not [p for p in certs.cert_file.parent.iterdir() if p.name.startswith(".")]


def test_long_dns_name_goes_to_sans_only(tmp_path: Path) -> None:
    long_name = ".".join(["a" * 60, "b" * 60, "example", "com"])
    result = generate(tmp_path, dns_names=[long_name], service=None, namespace=None)
    certificate = pki.load_certificate(result.cert_file)

    assert len(certificate.subject) == 0
    assert certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    assert long_name in sans(certificate).get_values_for_type(x509.DNSName)


@dataclass(frozen=True)
class BadRequest:
    overrides: dict[str, object]
    message: str


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(BadRequest({"namespace": None}, "together"), id="service without namespace"),
        pytest.param(BadRequest({"dns_names": ["bad_name"]}, "invalid DNS name"), id="bad name"),
        pytest.param(BadRequest({"dns_names": ["10.0.0.1"]}, "IP address"), id="ip as dns"),
        pytest.param(BadRequest({"ips": ["10.0.0.300"]}, "invalid IP"), id="bad ip"),
        pytest.param(BadRequest({"days": 0}, "at least 1"), id="zero days"),
        pytest.param(BadRequest({"service": "Webhook"}, "RFC 1035"), id="service name not a label"),
        pytest.param(
            BadRequest({"dns_names": [], "ips": [], "service": None, "namespace": None}, "needed"),
            id="no names at all",
        ),
        pytest.param(
            BadRequest({"ca_cert": Path("ca.crt")}, "together"), id="ca cert without ca key"
        ),
    ],
)
def test_generate_refuses_bad_requests(tmp_path: Path, case: BadRequest) -> None:
    with pytest.raises(ValueError, match=case.message):
        generate(tmp_path / "out", **case.overrides)
    assert not (tmp_path / "out").exists()


def test_reissue_refuses_a_certificate_that_would_outlive_its_ca(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="outlive its CA"):
        generate(
            tmp_path / "out", days=100_000, ca_cert=certs.ca_cert_file, ca_key=certs.ca_key_file
        )


def test_reissue_refuses_a_non_ca_certificate(certs: GeneratedCerts, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="not a CA certificate"):
        generate(tmp_path / "out", ca_cert=certs.cert_file, ca_key=certs.key_file)


def test_reissue_refuses_a_ca_key_that_does_not_match(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    with pytest.raises(CertificateError, match="does not match the CA"):
        generate(tmp_path / "out", ca_cert=certs.ca_cert_file, ca_key=certs.key_file)


# --- inspect -----------------------------------------------------------------------------------


def failed(report: certificates.InspectionReport) -> list[str]:
    return [check.name for check in report.failures]


def test_inspect_passes_a_good_pair(certs: GeneratedCerts) -> None:
    report = certificates.inspect(
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
    report = certificates.inspect(certs.cert_file)

    assert report.passed
    assert report.key_matches is None
    assert report.chains_to_ca is None
    assert report.valid_for_dns_name is None


def test_inspect_catches_a_wrong_san(certs: GeneratedCerts) -> None:
    report = certificates.inspect(certs.cert_file, dns_name="webhook.other.svc")

    assert failed(report) == ["dns name"]
    assert report.valid_for_dns_name is False
    assert "rollback-webhook.kargo.svc" in report.failures[0].detail


def test_inspect_catches_a_key_that_does_not_match(certs: GeneratedCerts, tmp_path: Path) -> None:
    other = generate(tmp_path / "other")

    report = certificates.inspect(certs.cert_file, key=other.key_file)

    assert failed(report) == ["key"]
    assert report.key_matches is False


def test_inspect_catches_an_expired_certificate(tmp_path: Path) -> None:
    old = generate(tmp_path, days=1, now=PAST)

    report = certificates.inspect(old.cert_file, key=old.key_file, ca_bundle=old.ca_cert_file)

    assert report.expired
    assert failed(report) == ["validity"]
    assert "expired at 2020-01-02" in report.failures[0].detail


def test_inspect_catches_a_certificate_not_yet_valid(certs: GeneratedCerts) -> None:
    report = certificates.inspect(certs.cert_file, now=PAST)

    assert failed(report) == ["validity"]
    assert "not valid before" in report.failures[0].detail


def test_inspect_catches_a_certificate_from_another_ca(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    other = generate(tmp_path / "other")

    report = certificates.inspect(certs.cert_file, ca_bundle=other.ca_cert_file)

    assert failed(report) == ["chain"]
    assert report.chains_to_ca is False
    assert "is the issuer" in report.failures[0].detail


def test_inspect_catches_a_forged_issuer_name(certs: GeneratedCerts, tmp_path: Path) -> None:
    cert, _ = pki.impostor_pair(certs.ca_cert_file, tmp_path / "impostor")

    report = certificates.inspect(cert, ca_bundle=certs.ca_cert_file)

    assert failed(report) == ["chain"]
    assert "signature does not verify" in report.failures[0].detail


def test_inspect_finds_the_issuer_in_a_bundle_of_several(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    other = generate(tmp_path / "other")
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(other.ca_cert_file.read_bytes() + certs.ca_cert_file.read_bytes())

    assert certificates.inspect(certs.cert_file, ca_bundle=bundle).chains_to_ca is True


def test_inspect_catches_a_cn_only_certificate(tmp_path: Path) -> None:
    cert = pki.cn_only_certificate(tmp_path)

    report = certificates.inspect(cert, dns_name="webhook.kargo.svc")

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
    assert certificates.dns_pattern_matches(pattern, host) is matches


def test_ip_host_matches_ip_sans_only(certs: GeneratedCerts) -> None:
    certificate = pki.load_certificate(certs.cert_file)

    assert certificates.certificate_matches_host(certificate, "127.0.0.1")
    assert not certificates.certificate_matches_host(certificate, "127.0.0.2")


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
        certificates.inspect(cert)
    assert str(cert) in str(raised.value)


def test_inspect_refuses_an_unreadable_key_or_bundle(certs: GeneratedCerts, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"garbage\n")

    with pytest.raises(CertificateError, match="not a PEM private key"):
        certificates.inspect(certs.cert_file, key=garbage)
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        certificates.inspect(certs.cert_file, ca_bundle=garbage)


# --- load_pair ---------------------------------------------------------------------------------


def test_load_pair_returns_the_certificate(certs: GeneratedCerts) -> None:
    pair = certificates.load_pair(certs.cert_file, certs.key_file)

    assert pair.certificate == pki.load_certificate(certs.cert_file)
    assert pair.intermediates == ()


def test_load_pair_keeps_intermediates(certs: GeneratedCerts, tmp_path: Path) -> None:
    chained = tmp_path / "chain.crt"
    chained.write_bytes(certs.cert_file.read_bytes() + certs.ca_cert_file.read_bytes())

    pair = certificates.load_pair(chained, certs.key_file)

    assert pair.intermediates == (pki.load_certificate(certs.ca_cert_file),)


@pytest.mark.parametrize(
    ("breakage", "message", "names"),
    [
        ("missing cert", "cannot read certificate", "tls.crt"),
        ("directory as key", "cannot read private key: Is a directory", "tls.key"),
        ("cert not pem", "not a PEM certificate", "tls.crt"),
        ("key not pem", "not a PEM private key", "tls.key"),
        ("half-written cert", "truncated PEM certificate", "tls.crt"),
        ("half-written key", "malformed PEM private key", "tls.key"),
        ("other key", "private key does not match the certificate in", "tls.key"),
        ("expired", "certificate expired at 2020-01-02", "tls.crt"),
    ],
)
def test_load_pair_refuses_with_one_line_naming_the_file(
    tmp_path: Path, breakage: str, message: str, names: str
) -> None:
    pair = generate(tmp_path / "pair")
    cert, key = pair.cert_file, pair.key_file
    if breakage == "missing cert":
        cert.unlink()
    elif breakage == "directory as key":
        key.unlink()
        key.mkdir()
    elif breakage == "cert not pem":
        cert.write_bytes(b"not a certificate\n")
    elif breakage == "key not pem":
        key.write_bytes(b"not a key\n")
    elif breakage == "half-written cert":
        cert.write_bytes(cert.read_bytes()[:200])
    elif breakage == "half-written key":
        key.write_bytes(key.read_bytes()[:100])
    elif breakage == "other key":
        key.write_bytes(generate(tmp_path / "other").key_file.read_bytes())
    elif breakage == "expired":
        generate(pair.cert_file.parent, days=1, now=PAST)

    with pytest.raises(CertificateError, match=message) as raised:
        certificates.load_pair(cert, key)
    assert "\n" not in str(raised.value)
    assert str(cert.parent / names) in str(raised.value)
