"""The dashboard ConfigMap: what Grafana's sidecar needs to find it, and a dashboard with the
panels docs/operating.md lists, each query on the chosen data source and filtered to one webhook."""

from __future__ import annotations

import json
from typing import Any

from tests.chart.helm import CHART_DIR, FULLNAME, NAMESPACE, of_kind, one, render

DASHBOARD_FILE = CHART_DIR / "dashboards" / "kargo-rollback-webhook.json"

PANEL_TITLES = [
    "Requests by decision and webhook",
    "Guard actions",
    "Errors by type",
    "Decision latency p50 and p99",
    "Overload answers",
    "Certificate expiry",
    "Memory per pod",
    "CPU per pod",
    "API server: calls by webhook and code",
    "API server: call latency p99",
    "API server: failed calls",
]


def _config_map(values: dict[str, Any] | None = None) -> dict[str, Any]:
    manifests = render({"grafanaDashboard": {"enabled": True, **(values or {})}})
    config_map: dict[str, Any] = one(manifests, "ConfigMap")
    return config_map


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(_config_map()["data"]["kargo-rollback-webhook.json"])
    return dashboard


def test_nothing_is_rendered_unless_enabled() -> None:
    assert of_kind(render(), "ConfigMap") == []


def test_the_sidecar_label_and_the_file_it_loads() -> None:
    config_map = _config_map({"labels": {"team": "platform"}, "annotations": {"folder": "Kargo"}})
    metadata = config_map["metadata"]
    assert metadata["name"] == f"{FULLNAME}-dashboard"
    assert metadata["namespace"] == NAMESPACE
    assert metadata["labels"]["grafana_dashboard"] == "1"
    assert metadata["labels"]["team"] == "platform"
    assert metadata["annotations"] == {"folder": "Kargo"}
    assert list(config_map["data"]) == ["kargo-rollback-webhook.json"]
    shipped = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    assert json.loads(config_map["data"]["kargo-rollback-webhook.json"]) == shipped


def test_the_panels_are_the_documented_ones() -> None:
    panels = [p for p in _dashboard()["panels"] if p["type"] != "row"]
    assert [p["title"] for p in panels] == PANEL_TITLES
    ids = [p["id"] for p in _dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]


def test_every_query_uses_the_chosen_data_source_and_one_webhook() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert set(variables) == {"datasource", "namespace", "job"}
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            expr = target["expr"]
            if "apiserver_" in expr:
                # The API server labels calls with the webhook's name, not the Service.
                assert 'name=~".+[.]kargo-rollback-webhook"' in expr, expr
            else:
                assert 'namespace="$namespace", job="$job"' in expr, expr


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in _dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
