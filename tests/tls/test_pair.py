"""The serving pair as the reloader reads it (`read_file`, then `parse_pair` with the files as
sources): parsed, matched and refused with one line naming the file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.tls.issuance import GeneratedCerts
from app.tls.pair import CertificateError, CertificatePair, parse_pair, read_file
from tests.support import pki
from tests.tls.issued import PAST, generate


def load_pair(cert: Path, key: Path) -> CertificatePair:
    """The files read and parsed as a pair, each named as its source."""
    return parse_pair(
        read_file(cert, "certificate"),
        read_file(key, "private key"),
        cert_source=str(cert),
        key_source=str(key),
        now=datetime.now(UTC),
    )


def test_load_pair_returns_the_certificate(certs: GeneratedCerts) -> None:
    pair = load_pair(certs.cert_file, certs.key_file)

    assert pair.certificate == pki.load_certificate(certs.cert_file)
    assert pair.intermediates == ()


def test_load_pair_keeps_intermediates(certs: GeneratedCerts, tmp_path: Path) -> None:
    chained = tmp_path / "chain.crt"
    chained.write_bytes(certs.cert_file.read_bytes() + certs.ca_cert_file.read_bytes())

    pair = load_pair(chained, certs.key_file)

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
        load_pair(cert, key)
    assert "\n" not in str(raised.value)
    assert str(cert.parent / names) in str(raised.value)
