"""`certs generate`: a CA and a serving certificate, written as a TLS Secret's files.

Everything issued here puts its names in subjectAltNames (the API server ignores the CN), and the
files are written atomically, because the running server's reloader may be watching them.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.tls.pair import (
    CertificateError,
    is_ca,
    key_matches_certificate,
    parse_certificates,
    parse_private_key,
    read_file,
    utc_text,
)

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"

# Certificates start this long before "now": the API server's node may run a few minutes behind
# the machine that issued the certificate, and a certificate that is "not yet valid" there fails
# every admission call until the clocks agree.
BACKDATE = timedelta(minutes=5)

# A CA created here outlives the serving certificates it will sign: a serving certificate is
# re-issued from it (`--ca-cert/--ca-key`) without touching the caBundle registered in the
# webhook configuration.
CA_VALIDITY = timedelta(days=3650)

# RFC 5280 `ub-common-name`; a longer DNS name goes to the SANs only and the subject stays empty.
MAX_COMMON_NAME_CHARS = 64

_DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*")
# Service names are RFC 1035 labels, namespaces RFC 1123 labels (Kubernetes' own validation).
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_MAX_DNS_NAME_CHARS = 253

# Key types a re-used CA may have (those TLS clients verify certificate signatures with).
_SIGNING_KEY_TYPES = (
    ec.EllipticCurvePrivateKey,
    rsa.RSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


@dataclass(frozen=True, slots=True)
class GeneratedCerts:
    """What `generate` wrote; `ca_bundle` goes into the webhook configuration's `caBundle`."""

    ca_cert_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path
    ca_bundle: str
    ca_created: bool
    ca_certificate: x509.Certificate
    certificate: x509.Certificate


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names a Service is reached by; the API server uses `<svc>.<ns>.svc`."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _validate_dns_name(name: str) -> str:
    lowered = name.lower()
    try:
        ipaddress.ip_address(lowered)
    except ValueError:
        pass
    else:
        raise ValueError(f"{name!r} is an IP address, not a DNS name; give it as an IP")
    if len(lowered) > _MAX_DNS_NAME_CHARS or not _DNS_NAME.fullmatch(lowered):
        raise ValueError(
            f"invalid DNS name {name!r}: must be dot-separated labels of a-z, 0-9 and '-',"
            " optionally starting with '*.'"
        )
    return lowered


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519 and Ed448 sign without a separate digest; cryptography wants None for them.
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def _new_ca(now: datetime, days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA allowed to sign end-entity certificates only (pathlen 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    # A random suffix keeps CAs of different runs apart: two CAs with the same subject make
    # chain building try the wrong one and report a signature error instead of "unknown CA".
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kargo-rollback-webhook"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"kargo-rollback-webhook CA {secrets.token_hex(4)}"
            ),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + max(CA_VALIDITY, timedelta(days=days)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _load_ca(
    cert_path: Path, key_path: Path, now: datetime
) -> tuple[bytes, x509.Certificate, bytes, CertificateIssuerPrivateKeyTypes]:
    """Read an existing CA; the certificate in the file whose public key matches the key signs."""
    cert_pem = read_file(cert_path, "CA certificate")
    key_pem = read_file(key_path, "CA private key")
    certificates = parse_certificates(cert_pem, source=str(cert_path))
    key = parse_private_key(key_pem, source=str(key_path))
    if not isinstance(key, _SIGNING_KEY_TYPES):
        raise CertificateError(f"{key_path}: a {type(key).__name__} cannot sign certificates")
    matching = [c for c in certificates if key_matches_certificate(c, key)]
    if not matching:
        raise CertificateError(f"{key_path}: private key does not match the CA in {cert_path}")
    ca = matching[0]
    if not is_ca(ca):
        raise CertificateError(f"{cert_path}: not a CA certificate (basicConstraints CA:true)")
    if now > ca.not_valid_after_utc:
        raise CertificateError(f"{cert_path}: CA expired at {utc_text(ca.not_valid_after_utc)}")
    return cert_pem, ca, key_pem, key


def _authority_key_identifier(
    ca: x509.Certificate, ca_key: CertificateIssuerPrivateKeyTypes
) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        # A CA without SKI (some old or hand-made ones): derive the identifier the way the
        # SKI would have been derived, which is what verifiers compare against.
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _serving_certificate(
    *,
    ca: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    dns_names: Sequence[str],
    ips: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address],
    common_name: str,
    now: datetime,
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    # Clients match SANs only; the CN is for humans reading the certificate. RFC 5280 wants the
    # SAN extension critical when the subject is empty (a name too long for a CN).
    fits = len(common_name) <= MAX_COMMON_NAME_CHARS
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if fits else [])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ip) for ip in ips]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # keyEncipherment is for RSA key transport; an EC key only signs.
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=not fits)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca, ca_key), critical=False)
        .sign(ca_key, _signature_hash(ca_key))
    )
    return certificate, key


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file and a rename, so a reader sees the old or the new file.

    The reloader polls these files; a half-written key would be reported as broken. The
    temporary file is created 0600 and only then filled, so key bytes are never world-readable.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _pem_key(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def generate(
    out_dir: Path,
    *,
    dns_names: Sequence[str],
    ips: Sequence[str],
    service: str | None,
    namespace: str | None,
    days: int = 365,
    ca_cert: Path | None = None,
    ca_key: Path | None = None,
    now: datetime | None = None,
) -> GeneratedCerts:
    """Write `ca.crt`, `ca.key`, `tls.crt` and `tls.key` into `out_dir`; return the caBundle.

    The CA is re-used only when given explicitly (`ca_cert` and `ca_key`, which may be the
    `ca.crt`/`ca.key` already in `out_dir`); otherwise a new CA is created and replaces any CA
    in `out_dir`. Re-using a CA found in `out_dir` implicitly would make "generate again"
    silently keep a CA the user meant to rotate; creating one implicitly never breaks anything
    unnoticed, because the printed caBundle changes with it. A re-used CA is copied byte for
    byte, so `ca.crt` (and the registered caBundle) stays identical and `out_dir` always holds
    a consistent set of four files.

    `now` exists for tests that need certificates from the past.
    """
    now = now or datetime.now(UTC)
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if (service is None) != (namespace is None):
        raise ValueError("service and namespace must be given together")
    if (ca_cert is None) != (ca_key is None):
        raise ValueError("the CA certificate and the CA key must be given together")

    names: list[str] = [_validate_dns_name(n) for n in dns_names]
    if service is not None and namespace is not None:
        if not _DNS1035_LABEL.fullmatch(service):
            raise ValueError(f"invalid service name {service!r}: must be an RFC 1035 label")
        if not _DNS1123_LABEL.fullmatch(namespace):
            raise ValueError(f"invalid namespace {namespace!r}: must be an RFC 1123 label")
        names += service_dns_names(service, namespace)
    names = list(dict.fromkeys(names))
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for ip in ips:
        try:
            addresses.append(ipaddress.ip_address(ip))
        except ValueError as exc:
            raise ValueError(f"invalid IP address {ip!r}") from exc
    addresses = list(dict.fromkeys(addresses))
    if not names and not addresses:
        raise ValueError("at least one DNS name, IP address or service/namespace is needed")
    # The CN names the certificate for humans: the first name given, else the name the API
    # server uses for the Service, else the first IP.
    if dns_names:
        common_name = names[0]
    elif service is not None and namespace is not None:
        common_name = f"{service}.{namespace}.svc"
    else:
        common_name = str(addresses[0])

    out = Path(out_dir)
    files = {
        "ca_cert": out / CA_CERT_FILE,
        "ca_key": out / CA_KEY_FILE,
        "cert": out / CERT_FILE,
        "key": out / KEY_FILE,
    }
    if ca_cert is not None and ca_key is not None:
        ca_cert_pem, ca, ca_key_pem, signing_key = _load_ca(ca_cert, ca_key, now)
        if now + timedelta(days=days) > ca.not_valid_after_utc:
            raise ValueError(
                f"a certificate valid for {days} days would outlive its CA in {ca_cert}"
                f" (expires {utc_text(ca.not_valid_after_utc)}); use fewer days or a new CA"
            )
        copy_ca = not (
            _same_file(ca_cert, files["ca_cert"]) and _same_file(ca_key, files["ca_key"])
        )
        ca_created = False
    else:
        ca, new_key = _new_ca(now, days)
        signing_key = new_key
        ca_cert_pem = ca.public_bytes(serialization.Encoding.PEM)
        ca_key_pem = _pem_key(new_key)
        copy_ca = True
        ca_created = True

    certificate, key = _serving_certificate(
        ca=ca,
        ca_key=signing_key,
        dns_names=names,
        ips=addresses,
        common_name=common_name,
        now=now,
        days=days,
    )

    if not out.exists():
        out.mkdir(parents=True, mode=0o700, exist_ok=True)
        out.chmod(0o700)
    if copy_ca:
        _write_atomically(files["ca_cert"], ca_cert_pem, 0o644)
        _write_atomically(files["ca_key"], ca_key_pem, 0o600)
    # Key first: a reader that catches the moment in between sees a new key with the old
    # certificate, a mismatch it refuses, rather than a certificate it cannot serve.
    _write_atomically(files["key"], _pem_key(key), 0o600)
    _write_atomically(files["cert"], certificate.public_bytes(serialization.Encoding.PEM), 0o644)

    return GeneratedCerts(
        ca_cert_file=files["ca_cert"],
        ca_key_file=files["ca_key"],
        cert_file=files["cert"],
        key_file=files["key"],
        ca_bundle=base64.b64encode(ca_cert_pem).decode("ascii"),
        ca_created=ca_created,
        ca_certificate=ca,
        certificate=certificate,
    )
