"""The certificate reloader: serving a pair, rotating to a new one (files replaced or a Secret
volume's symlink swapped), keeping the old pair when the new one is broken, polling, and
uvicorn serving through it. TLS versions, ALPN and client certificates are in
test_reloader_protocol.py."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509

from app.tls.issuance import GeneratedCerts
from app.tls.pair import CertificateError
from app.tls.reloader import CertificateReloader
from tests.support import pki
from tests.support.tls import client_context
from tests.tls.handshakes import (
    SERVER_KINDS,
    TIMEOUT,
    ServerKind,
    connect,
    echo,
    echo_server,
    exchange,
    peer,
)
from tests.tls.reloading import PAST, Recorder, generate, serial

# --- serving and rotating ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_serves_the_pair_with_and_without_sni(
    certs: GeneratedCerts, recorder: Recorder, kind: ServerKind
) -> None:
    reloader = recorder.reloader(certs)
    verified = client_context(certs.ca_cert_file)

    with echo_server(reloader.context, kind) as port:
        # No SNI: Python sends none for IP addresses and when no hostname is given.
        without_sni = exchange(port)
        with_sni = exchange(port, verified, server_hostname="localhost")

    assert without_sni.serial_number == with_sni.serial_number == serial(certs.cert_file)
    assert reloader.certificate.serial_number == serial(certs.cert_file)


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_rotation_reaches_new_handshakes_and_spares_open_connections(
    certs: GeneratedCerts, recorder: Recorder, kind: ServerKind
) -> None:
    reloader = recorder.reloader(certs)
    old_serial = serial(certs.cert_file)
    verified = client_context(certs.ca_cert_file)

    with (
        echo_server(reloader.context, kind) as port,
        connect(port, verified, server_hostname="localhost") as before,
    ):
        echo(before)
        rotated = generate(certs.cert_file.parent, ca=certs)

        assert reloader.check_now() is True

        after = exchange(port, verified, server_hostname="localhost")
        echo(before, b"still here\n")
        assert peer(before).serial_number == old_serial

    assert after.serial_number == serial(rotated.cert_file) != old_serial
    assert [c.serial_number for c in recorder.reloads] == [after.serial_number]
    assert reloader.certificate.serial_number == after.serial_number
    assert (
        reloader.certificate.not_valid_after_utc
        == pki.load_certificate(rotated.cert_file).not_valid_after_utc
    )
    assert recorder.errors == []


class SecretVolume:
    """A directory laid out the way kubelet mounts a Secret, updated the way kubelet does.

    `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`; an update writes a new timestamped
    directory and renames a new `..data` symlink over the old one, so both files change in one
    atomic step and the paths the server opened never change.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = 0
        root.mkdir()

    def publish(self, files: dict[str, bytes]) -> None:
        self.versions += 1
        version = self.root / f"..2024_01_01_00_00_0{self.versions}.000000000"
        version.mkdir()
        for name, content in files.items():
            (version / name).write_bytes(content)
        staging = self.root / "..data_tmp"
        staging.symlink_to(version.name)
        previous = (self.root / "..data").resolve() if (self.root / "..data").exists() else None
        os.replace(staging, self.root / "..data")
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        if previous is not None:
            for child in previous.iterdir():
                child.unlink()
            previous.rmdir()

    def publish_pair(self, certs: GeneratedCerts) -> None:
        self.publish(
            {"tls.crt": certs.cert_file.read_bytes(), "tls.key": certs.key_file.read_bytes()}
        )


def test_rotation_through_a_kubernetes_data_symlink_swap(
    tmp_path: Path, certs: GeneratedCerts, recorder: Recorder
) -> None:
    volume = SecretVolume(tmp_path / "volume")
    volume.publish_pair(certs)
    mounted = dataclasses.replace(
        certs, cert_file=volume.root / "tls.crt", key_file=volume.root / "tls.key"
    )
    reloader = recorder.reloader(mounted)

    with echo_server(reloader.context) as port:
        assert exchange(port).serial_number == serial(certs.cert_file)
        rotated = generate(tmp_path / "next", ca=certs)
        volume.publish_pair(rotated)

        assert reloader.check_now() is True
        assert exchange(port).serial_number == serial(rotated.cert_file)
        # The same content published again (kubelet resyncs) is no rotation.
        volume.publish_pair(rotated)
        assert reloader.check_now() is False

    assert len(recorder.reloads) == 1
    assert recorder.errors == []


def test_unchanged_files_are_not_reloaded(certs: GeneratedCerts, recorder: Recorder) -> None:
    reloader = recorder.reloader(certs)
    context = reloader.context
    certs.cert_file.write_bytes(certs.cert_file.read_bytes())  # new mtime, same content

    assert reloader.check_now() is False
    assert reloader.check_now() is False
    assert recorder.reloads == []
    assert recorder.errors == []
    assert reloader.context is context


def _break(certs: GeneratedCerts, breakage: str, scratch: Path) -> None:
    cert, key = certs.cert_file, certs.key_file
    if breakage == "key of another pair":
        key.write_bytes(generate(scratch).key_file.read_bytes())
    elif breakage == "half-written certificate":
        fresh = generate(scratch, ca=certs)
        key.write_bytes(fresh.key_file.read_bytes())
        cert.write_bytes(fresh.cert_file.read_bytes()[:300])
    elif breakage == "certificate not PEM":
        cert.write_bytes(b"kubectl create secret went wrong\n")
    elif breakage == "expired pair":
        generate(cert.parent, ca=certs, days=1, now=PAST)
    elif breakage == "key missing":
        key.unlink()
    elif breakage == "key is a directory":
        key.unlink()
        key.mkdir()
    else:
        raise AssertionError(breakage)


@pytest.mark.parametrize(
    ("breakage", "message", "file"),
    [
        ("key of another pair", "private key does not match the certificate", "tls.key"),
        ("half-written certificate", "truncated PEM certificate", "tls.crt"),
        ("certificate not PEM", "not a PEM certificate", "tls.crt"),
        ("expired pair", "certificate expired at 2020-01-02", "tls.crt"),
        ("key missing", "cannot read: No such file or directory", "tls.key"),
        ("key is a directory", "cannot read: Is a directory", "tls.key"),
    ],
)
def test_a_broken_pair_keeps_the_old_one_serving(
    certs: GeneratedCerts,
    recorder: Recorder,
    tmp_path: Path,
    breakage: str,
    message: str,
    file: str,
) -> None:
    reloader = recorder.reloader(certs)
    old_serial = serial(certs.cert_file)

    with echo_server(reloader.context) as port:
        _break(certs, breakage, tmp_path / "scratch")

        assert reloader.check_now() is False
        assert exchange(port).serial_number == old_serial
        assert reloader.certificate.serial_number == old_serial
        assert recorder.reloads == []
        assert len(recorder.errors) == 1
        assert message in recorder.errors[0]
        assert str(certs.cert_file.parent / file) in recorder.errors[0]
        assert "\n" not in recorder.errors[0]

        # Retried, and reported again, at every poll until the files are fixed.
        assert reloader.check_now() is False
        assert len(recorder.errors) == 2

        if certs.key_file.is_dir():
            certs.key_file.rmdir()
        fixed = generate(certs.cert_file.parent, ca=certs)
        assert reloader.check_now() is True
        assert exchange(port).serial_number == serial(fixed.cert_file)


def test_a_rotation_caught_between_the_two_files_is_not_an_error(
    certs: GeneratedCerts, recorder: Recorder, tmp_path: Path
) -> None:
    pending_writes: list[Callable[[], object]] = []

    def clock() -> datetime:
        # The reloader reads the clock while validating what it read: the moment a writer that
        # is between the two files would finish.
        while pending_writes:
            pending_writes.pop()()
        return datetime.now(UTC)

    reloader = recorder.reloader(certs, clock=clock)
    fresh = generate(tmp_path / "fresh", ca=certs)
    certs.key_file.write_bytes(fresh.key_file.read_bytes())  # new key, old certificate
    pending_writes.append(lambda: certs.cert_file.write_bytes(fresh.cert_file.read_bytes()))

    assert reloader.check_now() is False
    assert recorder.errors == []
    assert reloader.check_now() is True
    assert reloader.certificate.serial_number == serial(fresh.cert_file)


def test_construction_refuses_a_pair_it_cannot_serve(certs: GeneratedCerts) -> None:
    certs.key_file.write_bytes(b"")

    with pytest.raises(CertificateError, match=r"tls\.key: not a PEM private key"):
        Recorder().reloader(certs)


@pytest.mark.parametrize("interval", [0, -1.0])
def test_interval_must_be_positive(certs: GeneratedCerts, interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        Recorder().reloader(certs, interval=interval)


# --- polling -----------------------------------------------------------------------------------


def test_run_picks_up_a_rotation_and_stops_when_asked(
    certs: GeneratedCerts, tmp_path: Path
) -> None:
    async def scenario() -> int:
        reloaded = asyncio.Event()
        seen: list[int] = []

        def on_reload(certificate: x509.Certificate) -> None:
            seen.append(certificate.serial_number)
            reloaded.set()

        reloader = CertificateReloader(
            cert_file=certs.cert_file,
            key_file=certs.key_file,
            client_ca_file=None,
            min_version="1.2",
            interval=0.01,
            on_reload=on_reload,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(reloader.run(stop))
        generate(certs.cert_file.parent, ca=certs)
        await asyncio.wait_for(reloaded.wait(), TIMEOUT)
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        return seen[0]

    assert asyncio.run(scenario()) == serial(certs.cert_file)


def test_run_survives_a_raising_callback(certs: GeneratedCerts) -> None:
    async def scenario() -> list[str]:
        errors: list[str] = []
        reported = asyncio.Event()

        def on_reload(_: x509.Certificate) -> None:
            raise RuntimeError("metrics backend down")

        def on_error(message: str) -> None:
            errors.append(message)
            reported.set()

        reloader = CertificateReloader(
            cert_file=certs.cert_file,
            key_file=certs.key_file,
            client_ca_file=None,
            min_version="1.2",
            interval=0.01,
            on_reload=on_reload,
            on_error=on_error,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(reloader.run(stop))
        generate(certs.cert_file.parent, ca=certs)
        await asyncio.wait_for(reported.wait(), TIMEOUT)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        return errors

    errors = asyncio.run(scenario())
    assert "metrics backend down" in errors[0]


# --- uvicorn -----------------------------------------------------------------------------------


async def hello(
    scope: dict[str, object],
    receive: Callable[[], Awaitable[dict[str, object]]],
    send: Callable[[dict[str, object]], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def https_get(port: int, cafile: Path) -> tuple[bytes, int, str | None]:
    context = client_context(cafile, alpn=["h2", "http/1.1"])
    with connect(port, context, server_hostname="localhost") as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := connection.recv(4096):
            response += chunk
        served = peer(connection)
    return response.split(b"\r\n", 1)[0], served.serial_number, served.alpn


def test_uvicorn_serves_rotated_certificates_through_ssl_context_factory(
    certs: GeneratedCerts, recorder: Recorder
) -> None:
    """The hook the server uses: uvicorn calls `ssl_context_factory` once, in `Config.load()`."""
    reloader = recorder.reloader(certs)
    config = uvicorn.Config(
        hello,
        ssl_context_factory=lambda _config, _default: reloader.context,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        status, first_serial, alpn = https_get(port, certs.ca_cert_file)
        assert status == b"HTTP/1.1 200 OK"
        assert alpn == "http/1.1"
        assert first_serial == serial(certs.cert_file)

        rotated = generate(certs.cert_file.parent, ca=certs)
        assert reloader.check_now()

        status, second_serial, _ = https_get(port, certs.ca_cert_file)
        assert status == b"HTTP/1.1 200 OK"
        assert second_serial == serial(rotated.cert_file)
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        listener.close()
