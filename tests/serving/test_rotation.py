"""Certificate rotation under continuous load against the real process, polled every 0.2 s.

Four client threads call the webhook without pause while the files change: two open a new
connection (a new handshake) for every call and record the certificate presented, two keep one
connection alive throughout. No call may fail, whatever the rotation looks like on disk.
"""

from __future__ import annotations

import os
import shutil
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from tests.serving.clients import (
    admission_request,
    certificate_serial,
    connection,
    exchange,
    open_tls,
    served_serial,
)
from tests.serving.conftest import StartServer
from tests.support.server import ServerProcess
from tests.support.tls import client_context

pytestmark = pytest.mark.integration

INTERVAL = 0.2
# One poll interval, plus what a loaded machine may add to a poll and a handshake.
PICKUP_BOUND = INTERVAL + 0.3


@dataclass
class Load:
    """Calls from four threads until stopped; every failure is recorded, none is retried."""

    port: int
    context: ssl.SSLContext
    stop: threading.Event = field(default_factory=threading.Event)
    calls: int = 0
    failures: list[str] = field(default_factory=list)
    serials: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_connections(self, name: str) -> None:
        for i in range(5000):  # bounded: ~10 s of calls at most, stopped long before
            if self.stop.is_set():
                return
            try:
                with connection(self.port, self.context) as tls:
                    response = exchange(tls, admission_request(f"{name}-{i}"))
                    serial = served_serial(tls)
            except (OSError, ssl.SSLError) as exc:
                self._fail(f"{name}-{i}: {exc!r}")
                continue
            self._record(name, i, response.status, serial)

    def kept_connection(self, name: str) -> None:
        tls = open_tls(self.port, self.context)
        with tls:
            for i in range(20000):
                if self.stop.is_set():
                    return
                try:
                    response = exchange(tls, admission_request(f"{name}-{i}"))
                except (OSError, ssl.SSLError) as exc:
                    self._fail(f"{name}-{i}: {exc!r}")
                    return
                self._record(name, i, response.status, None)

    def _record(self, name: str, i: int, status: int, serial: int | None) -> None:
        with self.lock:
            self.calls += 1
            if serial is not None:
                self.serials.add(serial)
            if status != 200:
                self.failures.append(f"{name}-{i}: HTTP {status}")

    def _fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


@pytest.fixture
def load_on() -> Iterator[Callable[[ServerProcess, ssl.SSLContext], Load]]:
    threads: list[threading.Thread] = []
    loads: list[Load] = []

    def start(server: ServerProcess, context: ssl.SSLContext) -> Load:
        load = Load(server.port, context)
        loads.append(load)
        for name, target in [
            ("new-a", load.new_connections),
            ("new-b", load.new_connections),
            ("kept-a", load.kept_connection),
            ("kept-b", load.kept_connection),
        ]:
            thread = threading.Thread(target=target, args=(name,))
            threads.append(thread)
            thread.start()
        return load

    yield start
    for load in loads:
        load.stop.set()
    for thread in threads:
        thread.join(10)


def serial_now(server: ServerProcess, context: ssl.SSLContext) -> int:
    with connection(server.port, context) as tls:
        return served_serial(tls)


def seconds_until_served(
    server: ServerProcess, context: ssl.SSLContext, serial: int, since: float
) -> float:
    for _ in range(500):  # 5 s at most
        if serial_now(server, context) == serial:
            return time.monotonic() - since
        time.sleep(0.01)
    raise AssertionError("the new certificate was never presented")


def replace_atomically(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.new")
    shutil.copyfile(source, staging)
    os.replace(staging, target)


class SecretVolume:
    """A directory laid out and updated the way kubelet mounts a Secret.

    `tls.crt -> ..data/tls.crt`, `..data -> ..<version>`; an update writes a new version
    directory and renames a new `..data` link over the old one: both files change at once.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = 0
        root.mkdir()

    def publish(self, pair: Path) -> None:
        self.versions += 1
        version = self.root / f"..2026_01_01_00_00_{self.versions:02d}.000000000"
        version.mkdir()
        for name in ("tls.crt", "tls.key", "ca.crt"):
            shutil.copyfile(pair / name, version / name)
        staging = self.root / "..data_tmp"
        staging.symlink_to(version.name)
        data = self.root / "..data"
        previous = data.resolve() if data.exists() else None
        os.replace(staging, data)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        if previous is not None:
            shutil.rmtree(previous)


def reloads(server: ServerProcess, result: str) -> float:
    return server.metric(f'krw_tls_certificate_reloads_total{{result="{result}"}}')


def expiry_metric(server: ServerProcess) -> float:
    return server.metric("krw_tls_certificate_expiry_timestamp_seconds")


def not_after(pair: Path) -> float:
    certificate = x509.load_pem_x509_certificate((pair / "tls.crt").read_bytes())
    return certificate.not_valid_after_utc.timestamp()


@pytest.mark.parametrize("layout", ["renamed in place", "kubelet ..data swap"])
def test_rotation_under_load_fails_no_call_and_is_served_within_a_poll(
    start_server: StartServer,
    live_certs: Path,
    reissue: Callable[[], Path],
    load_on: Callable[[ServerProcess, ssl.SSLContext], Load],
    tmp_path: Path,
    layout: str,
) -> None:
    if layout == "renamed in place":
        served_dir = live_certs

        def rotate(pair: Path) -> None:
            # Key first, as `certs generate` writes: a poll between the two renames sees a
            # mismatch and keeps the old pair; the next poll sees the complete new one.
            replace_atomically(pair / "tls.key", live_certs / "tls.key")
            replace_atomically(pair / "tls.crt", live_certs / "tls.crt")

    else:
        volume = SecretVolume(tmp_path / "volume")
        volume.publish(live_certs)
        served_dir = volume.root
        rotate = volume.publish

    server = start_server("--cert-reload-interval", str(INTERVAL), certs=served_dir)
    context = client_context(live_certs / "ca.crt")
    first = certificate_serial(live_certs / "tls.crt")
    assert serial_now(server, context) == first
    assert expiry_metric(server) == not_after(live_certs)

    load = load_on(server, context)
    pickups = []
    pairs = [reissue(), reissue()]
    for pair in pairs:  # two rotations in a row, under the same load
        time.sleep(0.5)
        rotate(pair)
        rotated = time.monotonic()
        pickups.append(
            seconds_until_served(server, context, certificate_serial(pair / "tls.crt"), rotated)
        )
    time.sleep(0.5)
    load.stop.set()

    print(
        f"\n{layout}: {load.calls} calls during two rotations, {len(load.failures)} failed; "
        f"new certificate presented {', '.join(f'{p * 1000:.0f} ms' for p in pickups)} "
        f"after the files changed (poll interval {INTERVAL * 1000:.0f} ms)"
    )
    assert load.failures == []
    assert load.calls > 100
    assert max(pickups) < PICKUP_BOUND
    # Handshakes saw exactly the three certificates, never anything else.
    assert load.serials <= {first, *(certificate_serial(p / "tls.crt") for p in pairs)}
    assert reloads(server, "success") == 2
    assert expiry_metric(server) == not_after(pairs[-1])


def test_a_broken_pair_keeps_the_old_one_serving_and_is_counted(
    start_server: StartServer,
    live_certs: Path,
    reissue: Callable[[], Path],
    load_on: Callable[[ServerProcess, ssl.SSLContext], Load],
) -> None:
    server = start_server("--cert-reload-interval", str(INTERVAL), certs=live_certs)
    context = client_context(live_certs / "ca.crt")
    first = certificate_serial(live_certs / "tls.crt")
    load = load_on(server, context)
    time.sleep(0.3)

    # A key that belongs to another certificate: the pair cannot be served.
    stranger, fixed = reissue(), reissue()
    replace_atomically(stranger / "tls.key", live_certs / "tls.key")
    time.sleep(INTERVAL * 4)
    assert serial_now(server, context) == first
    errors = reloads(server, "error")
    assert errors >= 2  # counted at every poll while it lasts
    assert reloads(server, "success") == 0
    assert expiry_metric(server) == not_after(live_certs)
    assert "still serving the previous pair" in server.logs()
    assert "does not match" in server.logs()

    # The rotation completes: the new pair is served, and no call failed meanwhile.
    replace_atomically(fixed / "tls.key", live_certs / "tls.key")
    replace_atomically(fixed / "tls.crt", live_certs / "tls.crt")
    fixed_at = time.monotonic()
    seconds_until_served(server, context, certificate_serial(fixed / "tls.crt"), fixed_at)
    load.stop.set()
    assert load.failures == []
    assert reloads(server, "success") == 1
    print(
        f"\nbroken pair: {errors:.0f} errors counted in {INTERVAL * 4:.1f} s; "
        f"{load.calls} calls, 0 failed"
    )
