"""A serving certificate and key: read, parse and check that the pair can be served.

This is what the server and the reloader use at run time; the `certs` command's generation and
inspection build on it (issuance.py, inspection.py). The Kubernetes API server calls admission
webhooks over HTTPS only, checks the serving certificate against the `caBundle` of the webhook
configuration, and matches the host name against the subjectAltName extension alone:
certificates that carry their name only in the CN are refused since Kubernetes 1.19 (Go 1.15
dropped the CN fallback).

File names follow the `kubernetes.io/tls` Secret keys cert-manager also writes (`tls.crt`,
`tls.key`, `ca.crt`), so the server reads a mounted Secret and a local directory the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

_PEM_CERT_BEGIN = b"-----BEGIN CERTIFICATE-----"
_PEM_CERT_END = b"-----END CERTIFICATE-----"


class CertificateError(Exception):
    """A certificate or key file cannot be used; the one-line message names the file and why."""


@dataclass(frozen=True, slots=True)
class CertificatePair:
    """A serving certificate whose private key was checked to match it."""

    certificate: x509.Certificate
    # Certificates following the leaf in the same file (intermediates), sent along by the server.
    intermediates: tuple[x509.Certificate, ...]


def one_line(exc: BaseException) -> str:
    """cryptography's messages span lines; log lines and CLI errors must not."""
    return " ".join(str(exc).split()) or type(exc).__name__


def read_file(path: Path, what: str) -> bytes:
    """The bytes of a certificate or key file; any problem is a `CertificateError` naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    if not data.strip():
        raise CertificateError(f"{path}: {what} file is empty")
    return data


def parse_certificates(data: bytes, *, source: str) -> list[x509.Certificate]:
    """Parse every PEM certificate in `data`, refusing a truncated (half-written) last block.

    The PEM parser skips an incomplete block after a complete one, which would hide a file
    caught mid-write; counting BEGIN and END markers catches it.
    """
    begins = data.count(_PEM_CERT_BEGIN)
    if begins == 0:
        raise CertificateError(f"{source}: not a PEM certificate (no {_PEM_CERT_BEGIN.decode()})")
    if data.count(_PEM_CERT_END) != begins:
        raise CertificateError(f"{source}: truncated PEM certificate (BEGIN without END)")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertificateError(f"{source}: malformed PEM certificate: {one_line(exc)}") from exc
    if len(certificates) != begins:
        raise CertificateError(f"{source}: malformed PEM certificate block")
    return certificates


def parse_private_key(data: bytes, *, source: str) -> PrivateKeyTypes:
    """Parse an unencrypted PEM private key; the server has nobody to ask for a passphrase."""
    if b"-----BEGIN" not in data or b"PRIVATE KEY-----" not in data:
        raise CertificateError(f"{source}: not a PEM private key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise CertificateError(
            f"{source}: private key is encrypted; an unencrypted key is needed"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"{source}: malformed PEM private key: {one_line(exc)}") from exc


def _spki(public_key: object) -> bytes | None:
    public_bytes = getattr(public_key, "public_bytes", None)
    if public_bytes is None:
        return None
    spki: bytes = public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return spki


def key_matches_certificate(certificate: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """Whether `key` is the private half of the certificate's public key."""
    try:
        cert_spki = _spki(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm):
        return False
    return cert_spki is not None and cert_spki == _spki(key.public_key())


def utc_now() -> datetime:
    """The clock the reloaders check expiry with by default (tests pass their own)."""
    return datetime.now(UTC)


def utc_text(moment: datetime) -> str:
    """`moment` as an RFC 3339 UTC time, as error messages and reports show it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_pair(
    cert_pem: bytes, key_pem: bytes, *, cert_source: str, key_source: str, now: datetime
) -> CertificatePair:
    """Validate a serving pair given as bytes, so the bytes checked are the bytes served.

    Refuses what would make every handshake fail or every client reject us: unparsable files,
    a key that does not match, an expired certificate. A certificate that is not yet valid is
    accepted: issuers backdate, and refusing it would turn seconds of clock skew into an outage.
    """
    certificates = parse_certificates(cert_pem, source=cert_source)
    key = parse_private_key(key_pem, source=key_source)
    leaf = certificates[0]
    if not key_matches_certificate(leaf, key):
        raise CertificateError(
            f"{key_source}: private key does not match the certificate in {cert_source}"
        )
    if now > leaf.not_valid_after_utc:
        raise CertificateError(
            f"{cert_source}: certificate expired at {utc_text(leaf.not_valid_after_utc)}"
        )
    return CertificatePair(certificate=leaf, intermediates=tuple(certificates[1:]))


def is_ca(certificate: x509.Certificate) -> bool:
    """Whether basicConstraints says CA:true (a malformed extension counts as not a CA)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return constraints.value.ca
