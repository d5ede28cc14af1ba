from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.pki import generate_certs
from tests.support.server import ServerProcess

StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and serving pair from the real `certs generate`; copy it before changing files."""
    return generate_certs(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def live_certs(pki: Path, tmp_path: Path) -> Path:
    """A private copy of the pair, for tests that rotate or break the files under a server."""
    live = tmp_path / "live"
    live.mkdir()
    for name in ("ca.crt", "ca.key", "tls.crt", "tls.key"):
        shutil.copy2(pki / name, live / name)
    return live


@pytest.fixture
def reissue(pki: Path, tmp_path: Path) -> Callable[[], Path]:
    """A new serving pair from the same CA (so clients keep trusting it), in a fresh directory."""
    counter = itertools.count(1)

    def issue() -> Path:
        out = tmp_path / f"reissued-{next(counter)}"
        return generate_certs(
            out, "--ca-cert", str(pki / "ca.crt"), "--ca-key", str(pki / "ca.key")
        )

    return issue


@contextlib.contextmanager
def _servers(pki: Path, log_dir: Path) -> Iterator[StartServer]:
    started: list[ServerProcess] = []

    def start(
        *args: str,
        certs: Path | None = None,
        wait_ready: bool = True,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        log = log_dir / f"server-{len(started)}.log"
        # No drain unless a test asks for one (a later flag wins): stopping takes no 5 s.
        arguments = ["--drain-seconds", "0", *args]
        server = ServerProcess(certs=certs or pki, log_path=log, args=arguments, env=env or {})
        started.append(server)
        return server.start(wait_ready=wait_ready)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def start_server(pki: Path, tmp_path: Path) -> Iterator[StartServer]:
    """Start `serve` with extra flags; every server started is stopped after the test."""
    with _servers(pki, tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_server(
    pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartServer]:
    """`start_server` for servers a module's tests share (each test closes its own sockets)."""
    with _servers(pki, tmp_path_factory.mktemp("servers")) as start:
        yield start
