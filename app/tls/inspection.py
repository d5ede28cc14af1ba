"""`certs inspect`: what a certificate says about itself, and whether the API server would take it.

Checks what makes admission calls fail: validity, subjectAltNames (Kubernetes ignores the CN),
the key matching, direct issuance by a CA in the caBundle, and the Service's DNS name matching
a SAN the way Go's crypto/x509 matches it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from app.tls.pair import (
    CertificateError,
    is_ca,
    key_matches_certificate,
    one_line,
    parse_certificates,
    parse_private_key,
    read_file,
    utc_text,
)


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
        return CheckResult("validity", False, f"certificate expired at {utc_text(not_after)}")
    if now < not_before:
        return CheckResult(
            "validity", False, f"certificate not valid before {utc_text(not_before)}"
        )
    days_left = (not_after - now).days
    return CheckResult(
        "validity", True, f"valid until {utc_text(not_after)} ({days_left} days left)"
    )


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
        if not is_ca(ca):
            reasons.append(f"issuer {name!r} is not a CA (no basicConstraints CA:true)")
        elif now > ca.not_valid_after_utc:
            reasons.append(f"issuing CA {name!r} expired at {utc_text(ca.not_valid_after_utc)}")
        elif now < ca.not_valid_before_utc:
            reasons.append(
                f"issuing CA {name!r} not valid before {utc_text(ca.not_valid_before_utc)}"
            )
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
    leaf = parse_certificates(read_file(cert, "certificate"), source=str(cert))[0]
    private_key = parse_private_key(read_file(key, "private key"), source=str(key)) if key else None
    cas = (
        parse_certificates(read_file(ca_bundle, "CA bundle"), source=str(ca_bundle))
        if ca_bundle
        else None
    )
    try:
        dns_names, ip_addresses = subject_alternative_names(leaf)
    except ValueError as exc:
        raise CertificateError(f"{cert}: malformed subjectAltName: {one_line(exc)}") from exc

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
