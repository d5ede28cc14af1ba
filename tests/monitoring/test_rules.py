"""The chart's alerting rules: valid for Prometheus (`promtool check rules`), doing what they say
(`promtool test rules` with alerts.test.yaml), and each one linked to its runbook in
docs/operating.md."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.helm import REPO_ROOT, Manifest, of_kind, render
from tests.monitoring.tools import RUNBOOK_BASE_URL, prometheus_rule, write_rule_file
from tests.support.tools import PROMTOOL

UNIT_TESTS = Path(__file__).with_name("alerts.test.yaml")

# Every alert the chart ships; the list, one or two alerts per item.
ALERTS = {
    "KargoRollbackWebhookCallsFailing": "critical",
    "KargoRollbackWebhookFailingOpen": "critical",
    "KargoRollbackWebhookLatencyNearTimeout": "warning",
    "KargoRollbackWebhookNoReadyReplicas": "critical",
    "KargoRollbackWebhookBelowDisruptionBudget": "warning",
    "KargoRollbackWebhookCertificateExpiringSoon": "warning",
    "KargoRollbackWebhookCertificateExpired": "critical",
    "KargoRollbackWebhookCertificateReloadFailing": "warning",
    "KargoRollbackWebhookInternalErrors": "warning",
    "KargoRollbackWebhookDeadlinesExceeded": "warning",
    "KargoRollbackWebhookOverloaded": "warning",
    "KargoRollbackWebhookSlowDecisions": "warning",
}

PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def _alerts(rule: Manifest) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROMTOOL.path()), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _unit_test(rule: Manifest, directory: Path) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` of alerts.test.yaml against `rule`, written as rules.yaml beside it."""
    write_rule_file(rule, directory / "rules.yaml")
    shutil.copy(UNIT_TESTS, directory / UNIT_TESTS.name)
    return _promtool("test", "rules", UNIT_TESTS.name, cwd=directory)


def test_nothing_is_rendered_unless_enabled() -> None:
    assert of_kind(render(), "PrometheusRule") == []


def test_promtool_check_rules_accepts_the_rendered_rules(tmp_path: Path) -> None:
    rules = write_rule_file(prometheus_rule(), tmp_path / "rules.yaml")
    result = _promtool("check", "rules", str(rules), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    result = _unit_test(prometheus_rule(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _failures(output: str) -> dict[str, list[str]]:
    """promtool's failed expectations, per alert name: the `exp:[...], got:[...]` text of each."""
    failures: dict[str, list[str]] = {}
    parts = re.split(r"alertname: (\w+), time: [^,]+, ", output)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        failures.setdefault(name, []).append(re.sub(r"\s+", "", body))
    return failures


@pytest.mark.parametrize("alert", sorted(ALERTS))
@pytest.mark.parametrize(
    ("replacement", "caught_by"),
    [
        pytest.param("vector(1) < 0", "got:[]", id="never fires"),
        pytest.param("vector(1)", "exp:[]", id="always fires"),
    ],
)
def test_unit_tests_catch_an_alert_that(
    alert: str, replacement: str, caught_by: str, tmp_path: Path
) -> None:
    """Each alert has a test that makes it fire and one that must leave it silent: replacing its
    expression by one that never fires fails a test expecting it (`got:[]`), and by one that
    always fires fails a test expecting silence (`exp:[]`)."""
    rule = copy.deepcopy(prometheus_rule())
    _alerts(rule)[alert]["expr"] = replacement
    result = _unit_test(rule, tmp_path)
    assert result.returncode != 0
    failures = _failures(result.stdout + result.stderr)
    assert any(caught_by in failure for failure in failures.get(alert, [])), (
        f"no unit test expecting {caught_by} fails for {alert}:\n{result.stdout}"
    )


def test_each_alert_waits_is_labelled_and_links_its_runbook() -> None:
    alerts = _alerts(prometheus_rule())
    assert alerts.keys() == ALERTS.keys()
    for name, severity in ALERTS.items():
        alert = alerts[name]
        assert PROMETHEUS_DURATION.match(alert["for"]), name
        assert alert["labels"] == {"severity": severity}, name
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE_URL}#{name.lower()}"
        assert annotations["description"].endswith(f"Runbook: {annotations['runbook_url']}")
        assert "\n" not in annotations["summary"], name


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but `-` dropped,
    spaces to `-`."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        anchors.add(text.replace(" ", "-"))
    return anchors


def test_every_runbook_link_lands_on_a_section_of_the_operating_page() -> None:
    page = (REPO_ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    alerts_section = page.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    anchors = _github_anchors(alerts_section)
    for name, alert in _alerts(prometheus_rule()).items():
        url = alert["annotations"]["runbook_url"]
        assert url.split("#", 1)[0].endswith("/docs/operating.md"), url
        anchor = url.rsplit("#", 1)[1]
        assert anchor in anchors, f"{name}: no heading for #{anchor} under Alerts"


def test_rules_select_this_release_only() -> None:
    """The webhook's own series are the ServiceMonitor's (job is the Service's name), the
    kube-state-metrics series name this release's objects, and the API server's name the
    chart's webhooks with literal dots."""
    rule = prometheus_rule()
    own = 'job="krw-kargo-rollback-webhook", namespace="kargo-rollback-webhook"'
    for name, alert in _alerts(rule).items():
        expr = alert["expr"]
        if "krw_" in expr:
            assert own in expr, name
        elif "apiserver_" in expr:
            assert r"promotions\\.validate\\.kargo-rollback-webhook" in expr, name
        else:
            assert 'namespace="kargo-rollback-webhook"' in expr, name
            assert '"krw-kargo-rollback-webhook"' in expr, name


def test_thresholds_follow_the_values() -> None:
    values = {
        "timeoutSeconds": 10,
        "prometheusRule": {
            "enabled": True,
            "certificateExpiryWarningDays": 14,
            "decisionLatencyP99Seconds": 0.5,
            "labels": {"release": "prometheus"},
        },
    }
    (rule,) = of_kind(render(values), "PrometheusRule")
    alerts = _alerts(rule)
    assert alerts["KargoRollbackWebhookLatencyNearTimeout"]["expr"].rstrip().endswith("> 8")
    assert "< 1209600" in alerts["KargoRollbackWebhookCertificateExpiringSoon"]["expr"]
    assert alerts["KargoRollbackWebhookSlowDecisions"]["expr"].rstrip().endswith("> 0.5")
    assert rule["metadata"]["labels"]["release"] == "prometheus"


def test_without_a_disruption_budget_there_is_no_budget_alert() -> None:
    rule = prometheus_rule({"podDisruptionBudget": {"enabled": False}})
    assert "KargoRollbackWebhookBelowDisruptionBudget" not in _alerts(rule)


def test_unit_test_file_names_only_shipped_alerts() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text(encoding="utf-8"))["tests"]
    named = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert named == ALERTS.keys()
