"""Every panel of the shipped dashboard answers from a real Prometheus scraping a real server.

A `kargo-rollback-webhook serve` process runs with a concurrency limit of 1, and a bounded load
sends it what a cluster would: Promotions from users carrying the rollback annotation (stripped
and denied), ProjectConfigs good and bad, malformed bodies, and now and then a large review that
takes long to decide, so that the next request is denied at the limit (429). A Prometheus from
.tools scrapes it over HTTPS once a second with the labels the chart's ServiceMonitor gives.
Each panel's query, as Grafana would send it, is then evaluated through Prometheus' HTTP API and
must return numbers.

The API server panels read the API server's own metrics; no API server runs here, so their
queries are only checked to be valid PromQL (marked in NEEDS_API_SERVER).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from app.kargo.constants import (
    PROJECT_CONFIG_VALIDATE_PATH,
    PROMOTION_MUTATE_PATH,
    PROMOTION_VALIDATE_PATH,
)
from tests.chart.helm import CHART_DIR, FULLNAME, NAMESPACE
from tests.monitoring.prometheus import SCRAPE_INTERVAL_SECONDS, Prometheus, has_numbers
from tests.serving.clients import head, open_tls, read_response
from tests.support.pki import generate_certs
from tests.support.reviews import KEY, project_config, promotion, review, slow_to_decide_review
from tests.support.server import ServerProcess
from tests.support.tls import client_context

pytestmark = pytest.mark.integration

DASHBOARD = json.loads((CHART_DIR / "dashboards" / "kargo-rollback-webhook.json").read_text())
PANELS = {p["title"]: p for p in DASHBOARD["panels"] if p["type"] != "row"}

# Panels whose queries read the API server's apiserver_admission_webhook_* metrics.
NEEDS_API_SERVER = {
    "API server: calls by webhook and code",
    "API server: call latency p99",
    "API server: failed calls",
}

POD = f"{FULLNAME}-7d9f6-abcde"
# What Grafana puts in place of the dashboard's variables; $__rate_interval is at least four
# scrape intervals.
VARIABLES = {
    "$namespace": NAMESPACE,
    "$job": FULLNAME,
    "$__rate_interval": f"{5 * SCRAPE_INTERVAL_SECONDS}s",
}
LOAD_LIMIT_SECONDS = 45.0
SLOW = slow_to_decide_review("slow")
JSON_HEADERS = {"Content-Type": "application/json"}


def as_grafana_sends(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unknown variable in {expr}"
    return expr


@dataclass
class Load:
    """Requests in a background thread until stopped (or LOAD_LIMIT_SECONDS have passed)."""

    server: ServerProcess
    stop: threading.Event

    def run(self) -> None:
        deadline = time.monotonic() + LOAD_LIMIT_SECONDS
        context = client_context(self.server.ca_file)
        with httpx.Client(base_url=self.server.base_url, verify=context, timeout=10) as client:
            for round_number in itertools.count():
                if self.stop.is_set() or time.monotonic() > deadline:
                    return
                self._decisions(client)
                if round_number % 3 == 0:
                    self._overload(client)

    def _decisions(self, client: httpx.Client) -> None:
        stripped = orjson.dumps(review(promotion({KEY: "true"}), username="alice"))
        clean = orjson.dumps(review(promotion({}), username="alice"))
        bad_config = orjson.dumps(review(project_config([{"stageSelector": {"name": "regex:("}}])))
        good_config = orjson.dumps(review(project_config([{"stage": "prod"}])))
        for _ in range(10):
            client.post(PROMOTION_MUTATE_PATH, content=stripped, headers=JSON_HEADERS)
            client.post(PROMOTION_MUTATE_PATH, content=clean, headers=JSON_HEADERS)
            client.post(PROMOTION_VALIDATE_PATH, content=stripped, headers=JSON_HEADERS)
        client.post(PROJECT_CONFIG_VALIDATE_PATH, content=bad_config, headers=JSON_HEADERS)
        client.post(PROJECT_CONFIG_VALIDATE_PATH, content=good_config, headers=JSON_HEADERS)
        client.post(PROMOTION_MUTATE_PATH, content=b"{not json", headers=JSON_HEADERS)
        client.post(PROMOTION_VALIDATE_PATH, content=clean, headers={"Content-Type": "text/plain"})

    def _overload(self, client: httpx.Client) -> None:
        """Take the one slot with a review that takes long to decide, ask once more (429),
        then read the long one's answer."""
        body = orjson.dumps(review(promotion({}), username="alice"))
        context = client_context(self.server.ca_file)
        with contextlib.closing(open_tls(self.server.port, context)) as tls:
            path = PROJECT_CONFIG_VALIDATE_PATH + "?timeout=30s"
            tls.sendall(head("POST", path, content_length=len(SLOW)) + SLOW)
            time.sleep(0.05)  # its body is in: the slot is taken while it is decided
            client.post(PROMOTION_MUTATE_PATH, content=body, headers=JSON_HEADERS)
            read_response(tls)


@pytest.fixture(scope="module")
def panel_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each panel's title -> the results of its queries, evaluated once the load has run long
    enough for every panel outside NEEDS_API_SERVER to have numbers (or a deadline passed).
    The load, Prometheus and the server are stopped before any test looks at them."""
    directory = tmp_path_factory.mktemp("dashboard-live")
    certs = generate_certs(directory / "certs")
    server = ServerProcess(
        certs=certs, log_path=directory / "server.log", args=["--max-concurrency", "1"]
    ).start()
    prometheus = Prometheus(
        directory=directory,
        job=FULLNAME,
        target=f"127.0.0.1:{server.port}",
        ca_file=server.ca_file,
        target_labels={"namespace": NAMESPACE, "pod": POD},
    )
    stop = threading.Event()
    loader = threading.Thread(target=Load(server, stop).run, daemon=True)
    results: dict[str, Any] = {}
    try:
        prometheus.start()
        loader.start()
        deadline = time.monotonic() + LOAD_LIMIT_SECONDS - 5
        while time.monotonic() < deadline:
            time.sleep(1)
            if prometheus.scrapes() < 3:
                continue
            results = {
                title: [prometheus.query(as_grafana_sends(t["expr"])) for t in panel["targets"]]
                for title, panel in PANELS.items()
            }
            if all(
                has_numbers(result)
                for title, queries in results.items()
                if title not in NEEDS_API_SERVER
                for result in queries
            ):
                break
        results["$variables"] = {
            "namespace": prometheus.api("label/namespace/values", **{"match[]": "krw_build_info"}),
            "job": prometheus.api(
                "label/job/values", **{"match[]": f'krw_build_info{{namespace="{NAMESPACE}"}}'}
            ),
        }
    finally:
        stop.set()
        loader.join(timeout=30)
        prometheus.stop()
        server.stop()
    return results


def test_the_dashboard_variables_find_the_webhook(panel_results: dict[str, Any]) -> None:
    """`label_values(krw_build_info, namespace)` and the job variable, as Grafana asks them."""
    assert panel_results["$variables"] == {"namespace": [NAMESPACE], "job": [FULLNAME]}


@pytest.mark.parametrize("title", sorted(set(PANELS) - NEEDS_API_SERVER))
def test_every_panel_answers_with_numbers(title: str, panel_results: dict[str, Any]) -> None:
    for target, result in zip(PANELS[title]["targets"], panel_results[title], strict=True):
        assert has_numbers(result), f"{title}: no data for {target['expr']}"


def test_the_load_reached_every_outcome(panel_results: dict[str, Any]) -> None:
    """The load did what the panels are about, so their numbers are not zeros by accident."""

    def labels_of(title: str, label: str) -> set[str]:
        return {
            row["metric"][label]
            for result in panel_results[title]
            for row in result
            if float(row["value"][1]) > 0
        }

    decisions = labels_of("Requests by decision and webhook", "decision")
    assert {"allowed", "patched", "denied"} <= decisions
    assert labels_of("Guard actions", "action") == {"stripped", "denied"}
    assert {"bad-request", "content-type"} <= labels_of("Errors by type", "error")
    assert labels_of("Overload answers", "pod") == {POD}
    (expiry,) = panel_results["Certificate expiry"][0]
    assert 300 * 86400 < float(expiry["value"][1]) < 400 * 86400  # certs generate: 365 days
    (memory,) = panel_results["Memory per pod"][0]
    assert 10 * 2**20 < float(memory["value"][1]) < 1024 * 2**20


@pytest.mark.parametrize("title", sorted(NEEDS_API_SERVER))
def test_api_server_panels_are_valid_queries_without_an_api_server(
    title: str, panel_results: dict[str, Any]
) -> None:
    # Prometheus parsed and evaluated them (Prometheus.query fails otherwise); with no API server
    # scraped here they are empty.
    assert panel_results[title]
    assert all(result == [] for result in panel_results[title])


def test_exactly_the_marked_panels_need_the_api_server() -> None:
    reads_api_server = {
        title
        for title, panel in PANELS.items()
        if any("apiserver_" in t["expr"] for t in panel["targets"])
    }
    assert reads_api_server == NEEDS_API_SERVER
