"""`helm lint --strict` (warnings are failures) in every tls.mode and annotation mode."""

from __future__ import annotations

import pytest

from tests.chart.helm import CHART_DIR, NAMESPACE, helm_with_values, run_helm
from tests.chart.scenarios import SCENARIO_NAMES, all_scenarios


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_helm_lint_strict(scenario: str) -> None:
    result = helm_with_values(
        ["lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE], all_scenarios()[scenario]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_helm_is_a_current_release() -> None:
    result = run_helm(["version", "--template", "{{ .Version }}"])
    assert result.returncode == 0, result.stderr
    major = int(result.stdout.strip().removeprefix("v").split(".")[0])
    assert major >= 3, result.stdout
