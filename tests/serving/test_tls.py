"""TLS as the real process serves it: versions, ALPN, client certificates, start-up refusals."""

from __future__ import annotations

import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving.clients import (
    admission_request,
    connection,
    exchange,
    get_request,
    open_tls,
)
from tests.serving.conftest import StartServer
from tests.support import pki as client_pki
from tests.support.cli import CLI
from tests.support.pki import generate_certs
from tests.support.server import ServerProcess
from tests.support.tls import client_context
from tests.tls.handshakes import echo_server
from tests.tls.handshakes import exchange as echo_exchange

pytestmark = pytest.mark.integration

# Python deprecates the constants precisely because nobody should use them; these tests must.
allow_legacy_constants = pytest.mark.filterwarnings(
    "ignore:ssl.TLSVersion.TLSv1:DeprecationWarning"
)
HANDSHAKE_REFUSED = (ssl.SSLError, ConnectionError)


@pytest.fixture(scope="module")
def default_server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server()


def legacy_client(ca_file: Path | None, version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that really offers only TLS 1.0 or 1.1.

    OpenSSL 3 will not even send such a ClientHello at its default security level (no cipher
    suite qualifies); security level 0 makes it offer the old version, so a failure shows the
    server refused it rather than the client never asking.
    """
    context = client_context(ca_file, min_version=version, max_version=version)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def local_openssl_offers(version: ssl.TLSVersion, pki: Path) -> bool:
    """Control: whether this machine's OpenSSL can negotiate `version` with a server allowing it."""
    permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(pki / "tls.crt", pki / "tls.key")
    try:
        with echo_server(permissive, "threads") as port:
            echo_exchange(port, legacy_client(None, version))
    except HANDSHAKE_REFUSED:
        return False
    return True


@allow_legacy_constants
@pytest.mark.parametrize(
    "version",
    [
        pytest.param(ssl.TLSVersion.TLSv1, id="TLS 1.0"),
        pytest.param(ssl.TLSVersion.TLSv1_1, id="TLS 1.1"),
    ],
)
def test_tls_1_0_and_1_1_are_refused(
    default_server: ServerProcess, pki: Path, version: ssl.TLSVersion
) -> None:
    server = default_server
    # If the local OpenSSL cannot offer the version at all (built without it), the handshake
    # still fails, but for the client's reason: the assertion below still holds, and the
    # control says which case this machine is in.
    offered = local_openssl_offers(version, pki)
    with pytest.raises(HANDSHAKE_REFUSED):
        open_tls(server.port, legacy_client(pki / "ca.crt", version)).close()
    assert offered, f"this OpenSSL cannot offer {version.name}: the refusal above proves less"


def test_tls_1_2_is_served_by_default_and_h2_is_never_selected(
    default_server: ServerProcess, pki: Path
) -> None:
    server = default_server
    tls12 = client_context(pki / "ca.crt", max_version=ssl.TLSVersion.TLSv1_2)
    with connection(server.port, tls12) as tls:
        assert tls.version() == "TLSv1.2"
        assert exchange(tls, get_request("/healthz")).status == 200
    for offered, selected in [(["h2", "http/1.1"], "http/1.1"), (["h2"], None), (None, None)]:
        with connection(server.port, client_context(pki / "ca.crt", alpn=offered)) as tls:
            assert tls.selected_alpn_protocol() == selected, offered
            assert exchange(tls, get_request("/healthz")).status == 200


def test_min_version_1_3_refuses_a_tls_1_2_client(start_server: StartServer, pki: Path) -> None:
    server = start_server("--tls-min-version", "1.3")
    with pytest.raises(HANDSHAKE_REFUSED):
        open_tls(
            server.port, client_context(pki / "ca.crt", max_version=ssl.TLSVersion.TLSv1_2)
        ).close()
    with connection(server.port, client_context(pki / "ca.crt")) as tls:
        assert tls.version() == "TLSv1.3"
        assert exchange(tls, admission_request("tls13")).status == 200


# --- client certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCertificates:
    ca_file: Path
    good: tuple[Path, Path]
    untrusted: tuple[Path, Path]


@pytest.fixture(scope="module")
def client_certificates(tmp_path_factory: pytest.TempPathFactory) -> ClientCertificates:
    root = tmp_path_factory.mktemp("client-pki")
    trusted = generate_certs(root / "trusted-ca")
    foreign = generate_certs(root / "foreign-ca")
    return ClientCertificates(
        ca_file=trusted / "ca.crt",
        good=client_pki.issue_client_certificate(
            trusted / "ca.crt", trusted / "ca.key", root / "good"
        ),
        untrusted=client_pki.issue_client_certificate(
            foreign / "ca.crt", foreign / "ca.key", root / "untrusted"
        ),
    )


def wait_ready_with(server: ServerProcess, context: ssl.SSLContext) -> None:
    """`ServerProcess.wait_ready` without a client certificate cannot pass in this mode."""
    for _ in range(300):  # 30 s at most
        try:
            with connection(server.port, context, timeout=2) as tls:
                if exchange(tls, get_request("/readyz")).status == 200:
                    return
        except (OSError, ssl.SSLError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready:\n{server.logs()}")


@pytest.mark.parametrize("max_version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_client_certificate_mode(
    start_server: StartServer,
    pki: Path,
    client_certificates: ClientCertificates,
    max_version: ssl.TLSVersion,
) -> None:
    server = start_server("--client-ca-file", str(client_certificates.ca_file), wait_ready=False)
    good = client_context(
        pki / "ca.crt", client_cert=client_certificates.good, max_version=max_version
    )
    wait_ready_with(server, good)

    with connection(server.port, good) as tls:
        assert exchange(tls, admission_request("mtls")).status == 200

    for refused in [
        client_context(pki / "ca.crt", max_version=max_version),
        client_context(
            pki / "ca.crt", client_cert=client_certificates.untrusted, max_version=max_version
        ),
    ]:
        # TLS 1.2 fails in the handshake; with TLS 1.3 the client finishes its side before the
        # server checked the certificate, so the refusal arrives on the first read.
        with pytest.raises(HANDSHAKE_REFUSED), connection(server.port, refused) as tls:
            exchange(tls, get_request("/healthz"))


# --- start-up ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "setting", "detail"),
    [
        pytest.param("cert-not-pem", "--tls-cert-file", "not a PEM certificate", id="cert not PEM"),
        pytest.param("key-of-another", "--tls-key-file", "does not match", id="key mismatch"),
        pytest.param(
            "ca-not-pem", "--client-ca-file", "not a PEM certificate", id="client CA not PEM"
        ),
    ],
)
def test_a_pair_that_cannot_serve_exits_2_naming_the_setting(
    pki: Path, tmp_path: Path, breakage: str, setting: str, detail: str
) -> None:
    cert, key = pki / "tls.crt", pki / "tls.key"
    extra: list[str] = []
    if breakage == "cert-not-pem":
        cert = tmp_path / "tls.crt"
        cert.write_text("hello\n")
    elif breakage == "key-of-another":
        key = generate_certs(tmp_path / "other") / "tls.key"
    else:
        ca = tmp_path / "ca.crt"
        ca.write_text("hello\n")
        extra = ["--client-ca-file", str(ca)]
    result = subprocess.run(
        [CLI, "serve", "--tls-cert-file", str(cert), "--tls-key-file", str(key), *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert setting in result.stderr
    assert detail in result.stderr
