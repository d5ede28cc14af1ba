"""The certificate reloader's TLS settings: the lowest version accepted, ALPN, and client
certificates checked against a CA bundle that rotates too."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.tls.issuance import GeneratedCerts
from app.tls.reloader import CertificateReloader
from tests.support import pki
from tests.support.tls import client_context
from tests.tls.handshakes import (
    SERVER_KINDS,
    ServerKind,
    echo_server,
    exchange,
)
from tests.tls.reloading import Recorder, generate

# --- protocol settings -------------------------------------------------------------------------


def test_tls_1_2_clients_are_served_by_default(certs: GeneratedCerts, recorder: Recorder) -> None:
    reloader = recorder.reloader(certs)

    with echo_server(reloader.context) as port:
        served = exchange(port, client_context(max_version=ssl.TLSVersion.TLSv1_2))

    assert served.version == "TLSv1.2"


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_min_version_1_3_refuses_a_tls_1_2_client(
    certs: GeneratedCerts, recorder: Recorder, kind: ServerKind
) -> None:
    reloader = recorder.reloader(certs, min_version="1.3")

    with echo_server(reloader.context, kind) as port:
        with pytest.raises(ssl.SSLError):
            exchange(port, client_context(max_version=ssl.TLSVersion.TLSv1_2))
        assert exchange(port).version == "TLSv1.3"


def legacy_client(max_version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that really offers TLS 1.0/1.1.

    OpenSSL 3 refuses to even send such a ClientHello at its default security level (no cipher
    suite qualifies: "no ciphers available"); security level 0 makes it offer the old versions,
    so a failure proves the server refused them rather than the client never asking.
    """
    context = client_context(min_version=ssl.TLSVersion.TLSv1, max_version=max_version)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


LEGACY_VERSIONS = [
    pytest.param(ssl.TLSVersion.TLSv1, id="TLS 1.0"),
    pytest.param(ssl.TLSVersion.TLSv1_1, id="TLS 1.1"),
]
# Python deprecates the constants precisely because nobody should use them; these tests must.
allow_legacy_constants = pytest.mark.filterwarnings(
    "ignore:ssl.TLSVersion.TLSv1:DeprecationWarning"
)


@allow_legacy_constants
@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_tls_1_0_and_1_1_clients_are_refused(
    certs: GeneratedCerts, recorder: Recorder, version: ssl.TLSVersion
) -> None:
    reloader = recorder.reloader(certs)

    # The blocking server sends the protocol_version alert before closing; asyncio's transport
    # closes without flushing it, so the client there sees only an EOF.
    with (
        echo_server(reloader.context, "threads") as port,
        pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"),
    ):
        exchange(port, legacy_client(version))


@allow_legacy_constants
@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_the_legacy_client_does_connect_to_a_server_allowing_it(
    certs: GeneratedCerts, version: ssl.TLSVersion
) -> None:
    """Control for the test above: the refusal comes from the reloader's minimum version."""
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(certs.cert_file, certs.key_file)

    with echo_server(permissive, "threads") as port:
        served = exchange(port, legacy_client(version))

    assert (
        served.version
        == {ssl.TLSVersion.TLSv1: "TLSv1", ssl.TLSVersion.TLSv1_1: "TLSv1.1"}[version]
    )


@pytest.mark.parametrize(
    ("offered", "selected"),
    [
        pytest.param(["h2", "http/1.1"], "http/1.1", id="h2 and http/1.1"),
        pytest.param(["h2"], None, id="h2 only"),
        pytest.param(None, None, id="no alpn"),
    ],
)
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_alpn_offers_http_1_1_only(
    certs: GeneratedCerts,
    recorder: Recorder,
    kind: ServerKind,
    offered: list[str] | None,
    selected: str | None,
) -> None:
    reloader = recorder.reloader(certs)

    with echo_server(reloader.context, kind) as port:
        # Rotated once, so the context chosen by the SNI callback is the one answering.
        generate(certs.cert_file.parent, ca=certs)
        assert reloader.check_now()
        served = exchange(port, client_context(alpn=offered))

    assert served.alpn == selected


# --- client certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCAs:
    trusted: GeneratedCerts
    good_client: tuple[Path, Path]
    foreign_client: tuple[Path, Path]


@pytest.fixture
def client_cas(tmp_path: Path) -> ClientCAs:
    trusted = generate(tmp_path / "client-ca")
    foreign = generate(tmp_path / "foreign-ca")
    return ClientCAs(
        trusted=trusted,
        good_client=pki.issue_client_certificate(
            trusted.ca_cert_file, trusted.ca_key_file, tmp_path / "good"
        ),
        foreign_client=pki.issue_client_certificate(
            foreign.ca_cert_file, foreign.ca_key_file, tmp_path / "foreign"
        ),
    )


@pytest.fixture
def mtls_port(
    certs: GeneratedCerts, recorder: Recorder, client_cas: ClientCAs, request: pytest.FixtureRequest
) -> Iterator[tuple[int, CertificateReloader]]:
    reloader = recorder.reloader(certs, client_ca_file=client_cas.trusted.ca_cert_file)
    kind: ServerKind = getattr(request, "param", "asyncio")
    with echo_server(reloader.context, kind) as port:
        yield port, reloader


@pytest.mark.parametrize("rotated", [False, True], ids=["initial pair", "after rotation"])
@pytest.mark.parametrize("mtls_port", SERVER_KINDS, indirect=True)
def test_client_ca_mode(
    certs: GeneratedCerts,
    client_cas: ClientCAs,
    mtls_port: tuple[int, CertificateReloader],
    rotated: bool,
) -> None:
    port, reloader = mtls_port
    if rotated:
        generate(certs.cert_file.parent, ca=certs)
        assert reloader.check_now()

    served = exchange(port, client_context(client_cert=client_cas.good_client))
    assert served.serial_number == reloader.certificate.serial_number
    with pytest.raises((ssl.SSLError, ConnectionError)):
        exchange(port, client_context())
    with pytest.raises((ssl.SSLError, ConnectionError)):
        exchange(port, client_context(client_cert=client_cas.foreign_client))
