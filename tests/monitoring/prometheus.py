"""A real, short-lived Prometheus for tests: loopback only, its data in a temporary directory,
scraping a webhook server process over HTTPS once a second, stopped at the end."""

from __future__ import annotations

import math
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.ports import free_port
from tests.support.tools import PROMETHEUS

SCRAPE_INTERVAL_SECONDS = 1


@dataclass
class Prometheus:
    """`prometheus` from .tools, scraping `target` (host:port) with the labels the chart's
    ServiceMonitor would give it."""

    directory: Path
    job: str
    target: str
    ca_file: str
    target_labels: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Prometheus:
        config = {
            "global": {
                "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
                "scrape_timeout": f"{SCRAPE_INTERVAL_SECONDS}s",
                "evaluation_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
            },
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "scheme": "https",
                    # The server's certificate is verified, as the ServiceMonitor's tlsConfig does.
                    "tls_config": {"ca_file": self.ca_file, "server_name": "localhost"},
                    "static_configs": [{"targets": [self.target], "labels": self.target_labels}],
                }
            ],
        }
        config_file = self.directory / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        self._log = (self.directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(PROMETHEUS.path()),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                "--storage.tsdb.retention.time=1h",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"prometheus exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; fails unless its status is success (a query that does not parse)."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        result: list[dict[str, Any]] = data["result"]
        return result

    def scrapes(self) -> int:
        """Successful scrapes of the job in the last minute."""
        rows = self.query(f'sum_over_time(up{{job="{self.job}"}}[1m])')
        return int(float(rows[0]["value"][1])) if rows else 0


def has_numbers(result: list[dict[str, Any]]) -> bool:
    """At least one sample whose value is a number (histogram_quantile answers NaN without data)."""
    return any(not math.isnan(float(row["value"][1])) for row in result)
