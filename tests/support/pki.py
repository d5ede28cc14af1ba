"""Certificates for tests and benchmarks, made in one place.

- `generate_certs` runs the real `kargo-rollback-webhook certs generate`, as a user would: the CA
  and serving pair every server under test uses;
- the rest builds, directly with cryptography, what the generator deliberately cannot make:
  client certificates, impostor CAs, certificates without SANs or with odd key usages.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.cli import CLI
from tests.support.ports import LOOPBACK


def certs_generate(out: Path, *arguments: str, local: bool = True) -> str:
    """Run the real `certs generate --out out` with `arguments` (and, when `local`, the names
    localhost and 127.0.0.1); returns what it prints, the base64 caBundle."""
    names = ["--dns-name", "localhost", "--ip", LOOPBACK] if local else []
    done = subprocess.run(
        [CLI, "certs", "generate", "--out", str(out), *names, *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def generate_certs(out: Path, *arguments: str) -> Path:
    """A CA and serving pair for localhost and 127.0.0.1 from the real `certs generate`; returns
    the directory (ca.crt, ca.key, tls.crt, tls.key)."""
    certs_generate(out, *arguments)
    return out


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def certificate_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    """A certificate valid from 5 minutes ago for a day, with a random serial and no extension."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )


def issue_client_certificate(ca_cert: Path, ca_key: Path, out: Path) -> tuple[Path, Path]:
    """A client certificate (clientAuth) signed by the given CA; returns (cert, key) paths."""
    ca = load_certificate(ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        certificate_builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
            ca.subject,
            key.public_key(),
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(load_key(ca_key), hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    return write_certificate(out / "client.crt", certificate), write_key(out / "client.key", key)


def impostor_pair(ca_cert: Path, out: Path) -> tuple[Path, Path]:
    """A leaf naming the real CA as issuer but signed by another key with the same CA name."""
    ca = load_certificate(ca_cert)
    impostor_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        certificate_builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
            ca.subject,
            key.public_key(),
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(impostor_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    return write_certificate(out / "tls.crt", certificate), write_key(out / "tls.key", key)


def cn_only_certificate(out: Path) -> Path:
    """A self-signed certificate naming its host in the CN only (refused since Kubernetes 1.19)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook.kargo.svc")])
    certificate = certificate_builder(name, name, key.public_key()).sign(key, hashes.SHA256())
    out.mkdir(parents=True, exist_ok=True)
    return write_certificate(out / "cn-only.crt", certificate)
