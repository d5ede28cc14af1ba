"""What users read: every value is documented, and the install notes say how to check the
webhook and how to get out of trouble."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.chart.helm import CHART_DIR, FULLNAME, NAMESPACE, RELEASE, helm_with_values
from tests.chart.scenarios import modes

# Values whose children are free-form Kubernetes objects or maps: documented as a whole.
DOCUMENTED_AS_A_WHOLE = {
    "resources", "probes.startup", "probes.readiness", "probes.liveness",
    "tls.certManager.issuerRef", "serviceMonitor.tlsConfig", "topologySpreadConstraints",
}  # fmt: skip


def _value_paths(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in DOCUMENTED_AS_A_WHOLE:
            yield from _value_paths(value, f"{path}.")
        else:
            yield path


def test_readme_lists_every_value() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    readme = (CHART_DIR / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))
    paths = set(_value_paths(values))
    assert paths - documented == set(), "values missing from the README's table"
    assert documented - paths == set(), "README documents values that do not exist"


def _notes(values: dict[str, Any]) -> str:
    result = helm_with_values(
        ["install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client"], values
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


@pytest.mark.parametrize("annotation_mode", ["strip", "deny"])
def test_notes_show_how_to_check_the_webhook_and_the_runbook(annotation_mode: str) -> None:
    notes = _notes(modes("helm", annotation_mode))
    assert "kubectl create --dry-run=server" in notes
    assert "kind: ProjectConfig" in notes
    assert f"kubectl delete validatingwebhookconfiguration {FULLNAME}" in notes
    deletes_mutating = f"kubectl delete mutatingwebhookconfiguration {FULLNAME}" in notes
    assert deletes_mutating == (annotation_mode == "strip")
    assert f"kube-system or {NAMESPACE}" in notes


def test_notes_warn_about_a_single_replica() -> None:
    assert "WARNING: replicaCount is 1" in _notes({"replicaCount": 1})
    assert "WARNING" not in _notes({})
