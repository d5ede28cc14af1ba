"""The chart's alerting rules as the monitoring tests read them: rendered with the tests' runbook
address and written as the Prometheus Operator writes a rule file (promtool and prometheus
themselves are found by tests/support/tools.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.chart.helm import Manifest, one, render

# The runbook address the rules are rendered with in tests (alerts.test.yaml expects it).
RUNBOOK_BASE_URL = "https://docs.example.test/kargo-rollback-webhook/docs/operating.md"


def prometheus_rule(values: dict[str, object] | None = None) -> Manifest:
    """The chart's PrometheusRule, rendered with the tests' runbook address."""
    rule_values: dict[str, object] = {"enabled": True, "runbookBaseURL": RUNBOOK_BASE_URL}
    return one(render({"prometheusRule": rule_values, **(values or {})}), "PrometheusRule")


def write_rule_file(rule: Manifest, path: Path) -> Path:
    """A Prometheus rule file holding the PrometheusRule's groups, as the operator writes it."""
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path
