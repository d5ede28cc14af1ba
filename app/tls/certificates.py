"""Certificates for the webhook's HTTPS endpoint: generate them, inspect them, validate a pair.

The Kubernetes API server calls admission webhooks over HTTPS only. It checks the serving
certificate against the `caBundle` of the webhook configuration and matches the host name
against the subjectAltName extension alone: certificates that carry their name only in the CN
are refused since Kubernetes 1.19 (Go 1.15 dropped the CN fallback). Everything here therefore
puts names in SANs and treats a certificate without SANs as unusable.

File names follow the `kubernetes.io/tls` Secret keys cert-manager also writes (`tls.crt`,
`tls.key`, `ca.crt`), so a directory produced here can be turned into a Secret as is, and the
server reads a mounted Secret and a local directory the same way.
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
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check `inspect` ran, whether it passed, and a sentence a user can act on."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class InspectionReport:
    """What a certificate says about itself and which of the requested checks it fails.

    `key_matches`, `chains_to_ca` and `valid_for_dns_name` are None when the check was not
    requested (no key, CA bundle or DNS name given).
    """

    cert_file: Path
    subject: str
    issuer: str
    serial_number: int
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    expired: bool
    key_matches: bool | None
    chains_to_ca: bool | None
    valid_for_dns_name: bool | None
    checks: tuple[CheckResult, ...]

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def passed(self) -> bool:
        return not self.failures


# --- reading and validating -------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    """cryptography's messages span lines; log lines and CLI errors must not."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_file(path: Path, what: str) -> bytes:
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
        raise CertificateError(f"{source}: malformed PEM certificate: {_one_line(exc)}") from exc
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
        raise CertificateError(f"{source}: malformed PEM private key: {_one_line(exc)}") from exc


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


def _utc(moment: datetime) -> str:
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
            f"{cert_source}: certificate expired at {_utc(leaf.not_valid_after_utc)}"
        )
    return CertificatePair(certificate=leaf, intermediates=tuple(certificates[1:]))


def load_pair(cert: Path, key: Path, *, now: datetime | None = None) -> CertificatePair:
    """Validate the serving pair at start-up; raises `CertificateError` naming file and problem."""
    return parse_pair(
        _read_file(cert, "certificate"),
        _read_file(key, "private key"),
        cert_source=str(cert),
        key_source=str(key),
        now=now or datetime.now(UTC),
    )


# --- generating --------------------------------------------------------------------------------


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


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return constraints.value.ca


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
    cert_pem = _read_file(cert_path, "CA certificate")
    key_pem = _read_file(key_path, "CA private key")
    certificates = parse_certificates(cert_pem, source=str(cert_path))
    key = parse_private_key(key_pem, source=str(key_path))
    if not isinstance(key, _SIGNING_KEY_TYPES):
        raise CertificateError(f"{key_path}: a {type(key).__name__} cannot sign certificates")
    matching = [c for c in certificates if key_matches_certificate(c, key)]
    if not matching:
        raise CertificateError(f"{key_path}: private key does not match the CA in {cert_path}")
    ca = matching[0]
    if not _is_ca(ca):
        raise CertificateError(f"{cert_path}: not a CA certificate (basicConstraints CA:true)")
    if now > ca.not_valid_after_utc:
        raise CertificateError(f"{cert_path}: CA expired at {_utc(ca.not_valid_after_utc)}")
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
                f" (expires {_utc(ca.not_valid_after_utc)}); use fewer days or a new CA"
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


# --- inspecting -------------------------------------------------------------------------------


def subject_alternative_names(
    certificate: x509.Certificate,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The certificate's DNS names and IP addresses from its SAN extension (empty if none)."""
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), ()
    dns = tuple(sans.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in sans.get_values_for_type(x509.IPAddress))
    return dns, ips


def dns_pattern_matches(pattern: str, host: str) -> bool:
    """Match a SAN DNS entry against a host name, case-insensitively.

    A wildcard is honoured only as the whole leftmost label and covers exactly one label
    (RFC 6125 6.4.3, as Go's crypto/x509 does): `*.example.com` matches `a.example.com`, not
    `example.com` nor `a.b.example.com`.
    """
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if not pattern or not host:
        return False
    if pattern == host:
        return True
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return False


def certificate_matches_host(certificate: x509.Certificate, host: str) -> bool:
    """Whether a client connecting to `host` (a DNS name or an IP) accepts this certificate."""
    dns_names, ip_addresses = subject_alternative_names(certificate)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(dns_pattern_matches(pattern, host) for pattern in dns_names)
    return any(ipaddress.ip_address(ip) == address for ip in ip_addresses)


def _check_validity(certificate: x509.Certificate, now: datetime) -> CheckResult:
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if now > not_after:
        return CheckResult("validity", False, f"certificate expired at {_utc(not_after)}")
    if now < not_before:
        return CheckResult("validity", False, f"certificate not valid before {_utc(not_before)}")
    days_left = (not_after - now).days
    return CheckResult("validity", True, f"valid until {_utc(not_after)} ({days_left} days left)")


def _check_sans(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> CheckResult:
    if dns_names or ip_addresses:
        return CheckResult("subjectAltName", True, "has subjectAltName entries")
    return CheckResult(
        "subjectAltName",
        False,
        "no subjectAltName: Kubernetes (1.19+) ignores the CN and refuses this certificate",
    )


def _check_chain(
    leaf: x509.Certificate, cas: Sequence[x509.Certificate], bundle: Path, now: datetime
) -> CheckResult:
    """Whether a CA in the bundle directly issued `leaf` and is usable now.

    Only direct issuance is checked: a webhook's caBundle normally holds the issuing CA itself.
    """
    reasons: list[str] = []
    for ca in cas:
        if ca.subject != leaf.issuer:
            continue
        name = ca.subject.rfc4514_string()
        try:
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            reasons.append(f"signature does not verify with the public key of {name!r}")
            continue
        if not _is_ca(ca):
            reasons.append(f"issuer {name!r} is not a CA (no basicConstraints CA:true)")
        elif now > ca.not_valid_after_utc:
            reasons.append(f"issuing CA {name!r} expired at {_utc(ca.not_valid_after_utc)}")
        elif now < ca.not_valid_before_utc:
            reasons.append(f"issuing CA {name!r} not valid before {_utc(ca.not_valid_before_utc)}")
        else:
            return CheckResult("chain", True, f"issued by {name!r} from {bundle}")
    if not reasons:
        reasons.append(f"no CA in {bundle} is the issuer {leaf.issuer.rfc4514_string()!r}")
    return CheckResult("chain", False, "; ".join(reasons))


def inspect(
    cert: Path,
    *,
    key: Path | None = None,
    ca_bundle: Path | None = None,
    dns_name: str | None = None,
    now: datetime | None = None,
) -> InspectionReport:
    """Describe a certificate and run the checks the given inputs allow.

    Raises `CertificateError` when an input cannot be read or parsed at all: that is a usage
    problem, distinct from a certificate that was read and fails a check.
    """
    now = now or datetime.now(UTC)
    leaf = parse_certificates(_read_file(cert, "certificate"), source=str(cert))[0]
    private_key = (
        parse_private_key(_read_file(key, "private key"), source=str(key)) if key else None
    )
    cas = (
        parse_certificates(_read_file(ca_bundle, "CA bundle"), source=str(ca_bundle))
        if ca_bundle
        else None
    )
    try:
        dns_names, ip_addresses = subject_alternative_names(leaf)
    except ValueError as exc:
        raise CertificateError(f"{cert}: malformed subjectAltName: {_one_line(exc)}") from exc

    checks = [_check_validity(leaf, now), _check_sans(dns_names, ip_addresses)]
    key_matches: bool | None = None
    if private_key is not None:
        key_matches = key_matches_certificate(leaf, private_key)
        checks.append(
            CheckResult("key", True, f"private key in {key} matches the certificate")
            if key_matches
            else CheckResult("key", False, f"private key in {key} does not match the certificate")
        )
    chains: bool | None = None
    if cas is not None and ca_bundle is not None:
        chain_check = _check_chain(leaf, cas, ca_bundle, now)
        chains = chain_check.passed
        checks.append(chain_check)
    valid_for: bool | None = None
    if dns_name is not None:
        valid_for = certificate_matches_host(leaf, dns_name)
        listed = ", ".join([*dns_names, *ip_addresses]) or "none"
        checks.append(
            CheckResult("dns name", True, f"valid for {dns_name!r}")
            if valid_for
            else CheckResult(
                "dns name", False, f"not valid for {dns_name!r}; subjectAltNames: {listed}"
            )
        )

    return InspectionReport(
        cert_file=cert,
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        serial_number=leaf.serial_number,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        expired=now > leaf.not_valid_after_utc,
        key_matches=key_matches,
        chains_to_ca=chains,
        valid_for_dns_name=valid_for,
        checks=tuple(checks),
    )
