"""The real helm binary, run on the chart: where it comes from, rendering and parsing.

helm comes from `.tools/bin/helm`, installed and pinned by `scripts/install-helm.sh` (which
`make unit` runs first), or from `$HELM`. A missing helm fails the tests: the chart is only
tested for real, never skipped.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.tools import HELM

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "kargo-rollback-webhook"

RELEASE = "krw"
NAMESPACE = "kargo-rollback-webhook"
# <release>-<chart>: the name of every resource, the Service included.
FULLNAME = f"{RELEASE}-kargo-rollback-webhook"

Manifest = dict[str, Any]
Values = Mapping[str, Any]


def run_helm(
    args: Sequence[str], *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run helm with an empty config/cache home, so no local repositories or plugins leak in."""
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_DATA_HOME": f"{home}/data",
            "KUBECONFIG": f"{home}/no-cluster",
            **(env or {}),
        }
        return subprocess.run(
            [str(HELM.path()), *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=60,
            check=False,
        )


def helm_with_values(
    command: Sequence[str], values: Values, *, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `helm <command...> --values <file holding values>` (JSON is YAML)."""
    with tempfile.TemporaryDirectory(prefix="helm-values-") as directory:
        values_file = Path(directory) / "values.json"
        values_file.write_text(json.dumps(values), encoding="utf-8")
        return run_helm([*command, "--values", str(values_file)], env=env)


def template_command(namespace: str = NAMESPACE) -> list[str]:
    return ["template", RELEASE, str(CHART_DIR), "--namespace", namespace]


def parse_manifests(stream: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


@functools.cache
def _template_output(values_json: str, namespace: str) -> str:
    result = helm_with_values(template_command(namespace), json.loads(values_json))
    if result.returncode != 0:
        pytest.fail(f"helm template failed:\n{result.stderr}", pytrace=False)
    return result.stdout


def render(values: Values | None = None, *, namespace: str = NAMESPACE) -> list[Manifest]:
    """`helm template` of the chart with `values`; one render per distinct input per session.

    The cache holds helm's output, so each caller gets its own parsed copy to look at. (In
    tls.mode=helm every render outside the cache has a fresh certificate.)
    """
    key = json.dumps(values or {}, sort_keys=True)
    return parse_manifests(_template_output(key, namespace))


def render_fresh(values: Values | None = None) -> list[Manifest]:
    """`helm template` without the cache."""
    result = helm_with_values(template_command(), values or {})
    assert result.returncode == 0, result.stderr
    return parse_manifests(result.stdout)


def render_error(values: Values) -> str:
    """The error helm prints for values the chart must refuse."""
    result = helm_with_values(template_command(), values)
    assert result.returncode != 0, f"helm accepted {values!r}"
    return result.stderr


def of_kind(manifests: Sequence[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: Sequence[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def webhooks(manifests: Sequence[Manifest]) -> list[Manifest]:
    """Every webhook of every (mutating or validating) configuration."""
    return [
        hook
        for m in manifests
        if m["kind"] in {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
        for hook in m["webhooks"]
    ]


def pod_spec(manifests: Sequence[Manifest]) -> Manifest:
    spec: Manifest = one(manifests, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(manifests: Sequence[Manifest]) -> Manifest:
    (webhook,) = pod_spec(manifests)["containers"]
    assert isinstance(webhook, dict)
    return webhook


def env_of(manifests: Sequence[Manifest]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(manifests)["env"]}
