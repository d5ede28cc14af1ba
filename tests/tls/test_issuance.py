"""`certs generate`'s code: the CA and serving certificate it issues, and what it refuses."""

from __future__ import annotations

import base64
import ssl
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from app.tls import inspection, issuance
from app.tls.issuance import GeneratedCerts
from app.tls.pair import CertificateError
from tests.support import pki
from tests.support.tls import client_context
from tests.tls.handshakes import echo_server, exchange, serving_context
from tests.tls.issued import generate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sans(certificate: x509.Certificate) -> x509.SubjectAlternativeName:
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


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
    assert lifetime == timedelta(days=30) + issuance.BACKDATE


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
        served = exchange(port, client_context(certs.ca_cert_file), server_hostname=server_hostname)

    assert served.serial_number == pki.load_certificate(certs.cert_file).serial_number


def test_handshake_fails_for_a_name_not_in_the_certificate(certs: GeneratedCerts) -> None:
    with (
        echo_server(serving_context(certs.cert_file, certs.key_file), "threads") as port,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        exchange(port, client_context(certs.ca_cert_file), server_hostname="other.kargo.svc")


def test_handshake_fails_against_another_ca(certs: GeneratedCerts, tmp_path: Path) -> None:
    other = generate(tmp_path / "other")
    with (
        echo_server(serving_context(certs.cert_file, certs.key_file), "threads") as port,
        pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"),
    ):
        exchange(port, client_context(other.ca_cert_file), server_hostname="localhost")


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
    report = inspection.inspect(again.cert_file, key=again.key_file, ca_bundle=again.ca_cert_file)
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
