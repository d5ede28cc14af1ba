"""Real server processes for integration tests: `kargo-rollback-webhook serve` over real TLS."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.cli import CLI
from tests.support.ports import free_port
from tests.support.tls import client_context


@dataclass
class ServerProcess:
    certs: Path
    log_path: Path
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.certs / "ca.crt")

    def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRW_")}
        env.update(self.env)
        cmd = [
            CLI,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--tls-cert-file",
            str(self.certs / "tls.crt"),
            "--tls-key-file",
            str(self.certs / "tls.key"),
            *self.args,
        ]
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=self._log, env=env)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def client(self, timeout: float = 10.0) -> httpx.Client:
        verify = client_context(self.ca_file)
        return httpx.Client(base_url=self.base_url, verify=verify, timeout=timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                with self.client() as c:
                    if c.get("/readyz").status_code == 200:
                        return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
        raise AssertionError(f"server not ready after {timeout}s ({last}):\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.terminate()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code

    # --- for tests that stop the server themselves (tests/serving) -----------------------------

    def send_signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to exit on its own; kill it and fail if it does not in time."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._log.close()
            raise AssertionError(f"server still running after {timeout}s:\n{self.logs()}") from None
        self._log.close()
        return code

    def metric(self, line_prefix: str, client: httpx.Client | None = None) -> float:
        """The value of the first `/metrics` sample starting with `line_prefix` (0 if none)."""
        if client is None:
            with self.client() as own:
                text = own.get("/metrics").text
        else:
            text = client.get("/metrics").text
        for line in text.splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
        return 0.0
