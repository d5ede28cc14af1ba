"""promtool and prometheus from `.tools/bin` (scripts/install-prometheus.sh, which `make unit`
runs first), or from `$PROMTOOL` / `$PROMETHEUS`. A missing binary fails the tests: the rules
and the dashboard are only tested for real, never skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import REPO_ROOT, Manifest, one, render

TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
# The runbook address the rules are rendered with in tests (alerts.test.yaml expects it).
RUNBOOK_BASE_URL = "https://docs.example.test/kargo-rollback-webhook/docs/operating.md"


def tool(name: str) -> Path:
    """`$<NAME>` if set, else `.tools/bin/<name>`; fails the test with the way to install it."""
    configured = os.environ.get(name.upper())
    path = Path(configured) if configured else TOOLS_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{name} not found at {path}: run scripts/install-prometheus.sh (it installs the "
            f"pinned prometheus and promtool; `make test` runs it) or set {name.upper()}=",
            pytrace=False,
        )
    return path


def prometheus_rule(values: dict[str, object] | None = None) -> Manifest:
    """The chart's PrometheusRule, rendered with the tests' runbook address."""
    rule_values: dict[str, object] = {"enabled": True, "runbookBaseURL": RUNBOOK_BASE_URL}
    return one(render({"prometheusRule": rule_values, **(values or {})}), "PrometheusRule")


def write_rule_file(rule: Manifest, path: Path) -> Path:
    """A Prometheus rule file holding the PrometheusRule's groups, as the operator writes it."""
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path
