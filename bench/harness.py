"""Processes under load: the webhook and the ceiling app on one CPU, wrk on another, all local.

Ports, certificates, client TLS contexts and the console script come from the tests' support
layer (tests/support/), so the benchmarks serve exactly as the tests do.

Every target is 127.0.0.1; every run is bounded in time (wrk's `-d`, timeouts on every wait).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import httpx

from tests.support.cli import CLI
from tests.support.ports import LOOPBACK, free_port
from tests.support.tls import client_context

REPO: Final = Path(__file__).resolve().parents[1]
BIN: Final = Path(sys.executable).parent
LUA: Final = Path(__file__).with_name("post.lua")
HOST: Final = LOOPBACK


def cpus() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and the load generator: CPU 0 and CPU 1 when there are
    two or more and taskset exists, else no pinning (noted in the report)."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    return [], []


@dataclass
class Served:
    """One server process (the webhook or the ceiling app) on its own port."""

    name: str
    command: list[str]
    certs: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def start(self, pin: list[str]) -> Served:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRW_")}
        self._log = self.log_path.open("ab")
        command = [*pin, *self.command, "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603 - our own command lines
            command, stdout=self._log, stderr=self._log, env=env
        )
        self._wait_ready()
        return self

    def client(self) -> httpx.Client:
        verify = client_context(self.certs / "ca.crt")
        return httpx.Client(base_url=self.url, verify=verify, timeout=10)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} not listening after 30 s")

    def rss_kib(self) -> int:
        """VmRSS of the process, from /proc/<pid>/status."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()


def webhook(certs: Path, log: Path) -> Served:
    command = [CLI, "serve", "--host", HOST, "--tls-cert-file", str(certs / "tls.crt")]
    command += ["--tls-key-file", str(certs / "tls.key")]
    return Served("webhook", command, certs, log)


def ceiling(certs: Path, log: Path) -> Served:
    command = [sys.executable, "-m", "bench.ceiling", "--host", HOST]
    command += ["--tls-cert-file", str(certs / "tls.crt"), "--tls-key-file", str(certs / "tls.key")]
    return Served("ceiling", command, certs, log)


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_command(
    url: str, body_file: Path, *, seconds: int, connections: int, pin: list[str]
) -> list[str]:
    """One wrk run (one thread: one core) POSTing `body_file` over keep-alive connections."""
    command = [*pin, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    return [*command, "-s", str(LUA), url, "--", str(body_file)]


def parse_wrk(stdout: str, stderr: str = "") -> WrkRun:
    """The figures `bench/post.lua` prints as its BENCH_JSON line."""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            return WrkRun(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                errors=raw["errors"],
            )
    raise RuntimeError(f"no BENCH_JSON line from wrk:\n{stdout}\n{stderr}")


def wrk(url: str, body_file: Path, *, seconds: int, connections: int, pin: list[str]) -> WrkRun:
    """Run wrk (`wrk_command`) and return its figures."""
    done = subprocess.run(  # noqa: S603 - wrk from PATH, arguments built here
        wrk_command(url, body_file, seconds=seconds, connections=connections, pin=pin),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return parse_wrk(done.stdout, done.stderr)


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    # wrk is looked up on PATH on purpose.
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "wrk": (wrk_version.stdout or wrk_version.stderr).split("\n", 1)[0].strip(),
    }


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install -y wrk)")


def busy_fraction(seconds: float = 1.0) -> float:
    """How busy all CPUs were over `seconds` (from /proc/stat): other load skews the figures."""

    def times() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = times()
    time.sleep(seconds)
    total1, idle1 = times()
    elapsed = total1 - total0
    return 0.0 if elapsed <= 0 else 1 - (idle1 - idle0) / elapsed
