"""The Deployment and what keeps it available and locked down: replicas, spreading, disruption
budget, probes, shutdown timing, the restricted Pod Security profile, and the server's settings."""

from __future__ import annotations

from typing import Any

import pytest

from app.config import OPTIONS
from tests.chart.helm import (
    NAMESPACE,
    Manifest,
    container,
    env_of,
    of_kind,
    one,
    pod_spec,
    render,
)
from tests.chart.scenarios import EVERYTHING, SCENARIO_NAMES, all_scenarios
from tests.image.dockerfile import stages

# Volume types the restricted Pod Security profile allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def _all_containers(spec: Manifest) -> list[Manifest]:
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_container_follows_the_restricted_pod_security_profile(scenario: str) -> None:
    spec = pod_spec(render(all_scenarios()[scenario]))
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in _all_containers(spec):
        security = c["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["privileged"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert security.get("runAsUser", 1) != 0
    for host_field in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(host_field, False)
    for volume in spec["volumes"]:
        assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES, volume


def test_pods_run_as_the_images_non_root_uid() -> None:
    pod_security = pod_spec(render())["securityContext"]
    assert stages()[-1].last("USER") == "65532:65532", "the image's UID"
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (65532, 65532)
    assert pod_security["fsGroup"] == 65532


def test_openshift_values_leave_the_ids_to_the_platform() -> None:
    pod_security = pod_spec(render(all_scenarios()["openshift"]))["securityContext"]
    assert pod_security == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_no_service_account_token_is_mounted(scenario: str) -> None:
    manifests = render(all_scenarios()[scenario])
    assert pod_spec(manifests)["automountServiceAccountToken"] is False
    for account in of_kind(manifests, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
        assert account["metadata"]["name"] == pod_spec(manifests)["serviceAccountName"]


def test_only_tmp_is_writable_and_the_key_is_not_world_readable() -> None:
    manifests = render()
    mounts = {m["mountPath"]: m for m in container(manifests)["volumeMounts"]}
    writable = {path for path, m in mounts.items() if not m.get("readOnly", False)}
    assert writable == {"/tmp"}
    volumes = {v["name"]: v for v in pod_spec(manifests)["volumes"]}
    assert volumes[mounts["/tmp"]["name"]]["emptyDir"]["sizeLimit"]
    tls_volume = volumes[mounts["/etc/kargo-rollback-webhook/tls"]["name"]]
    assert tls_volume["secret"]["defaultMode"] == 0o440


def test_two_replicas_rolled_without_ever_losing_one() -> None:
    deployment = one(render(), "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }


def test_pods_spread_across_nodes_and_zones() -> None:
    manifests = render()
    selector = one(manifests, "Deployment")["spec"]["selector"]["matchLabels"]
    constraints = pod_spec(manifests)["topologySpreadConstraints"]
    assert [c["topologyKey"] for c in constraints] == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]
    for constraint in constraints:
        assert constraint["labelSelector"] == {"matchLabels": selector}
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]
        assert constraint["maxSkew"] == 1


def test_user_spread_constraints_keep_their_own_selector() -> None:
    own = {
        "maxSkew": 2,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"team": "platform"}},
    }
    (constraint,) = pod_spec(render({"topologySpreadConstraints": [own]}))[
        "topologySpreadConstraints"
    ]
    assert constraint == own


def test_disruption_budget_selects_the_pods() -> None:
    manifests = render()
    budget = one(manifests, "PodDisruptionBudget")["spec"]
    selector = one(manifests, "Deployment")["spec"]["selector"]
    assert budget["selector"] == selector
    assert budget["maxUnavailable"] == 1
    assert "minAvailable" not in budget
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    custom = one(render({"podDisruptionBudget": {"minAvailable": 2}}), "PodDisruptionBudget")
    assert custom["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in custom["spec"]


def test_resources_have_requests_and_limits() -> None:
    resources = container(render())["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind])


def test_priority_class_is_optional() -> None:
    assert "priorityClassName" not in pod_spec(render())
    spec = pod_spec(render({"priorityClassName": "system-cluster-critical"}))
    assert spec["priorityClassName"] == "system-cluster-critical"


def _probe_target(manifests: list[Manifest], probe: str) -> tuple[str, str, int]:
    c = container(manifests)
    get = c[probe]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    return get["scheme"], get["path"], ports[get["port"]]


def test_https_probes_on_health_and_readiness_endpoints() -> None:
    manifests = render()
    assert _probe_target(manifests, "startupProbe") == ("HTTPS", "/healthz", 8443)
    assert _probe_target(manifests, "readinessProbe") == ("HTTPS", "/readyz", 8443)
    assert _probe_target(manifests, "livenessProbe") == ("HTTPS", "/healthz", 8443)
    assert env_of(manifests)["KRW_PORT"] == "8443"


def test_probes_follow_the_port_and_timings() -> None:
    values = {"server": {"port": 9443}, "probes": {"readiness": {"periodSeconds": 3}}}
    manifests = render(values)
    assert _probe_target(manifests, "readinessProbe") == ("HTTPS", "/readyz", 9443)
    assert container(manifests)["readinessProbe"]["periodSeconds"] == 3
    assert env_of(manifests)["KRW_PORT"] == "9443"


def test_with_client_certificates_required_the_probes_only_connect() -> None:
    """The kubelet presents no client certificate: an HTTPS probe would never pass."""
    manifests = render({"tls": {"clientCA": {"secretName": "apiserver-client-ca"}}})
    c = container(manifests)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["tcpSocket"] == {"port": "https"}
        assert "httpGet" not in c[probe]
    assert env_of(manifests)["KRW_CLIENT_CA_FILE"] == "/etc/kargo-rollback-webhook/client-ca/ca.crt"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(manifests)["volumes"]}
    assert mounts["client-ca"] == "/etc/kargo-rollback-webhook/client-ca"
    assert volumes["client-ca"]["secret"]["secretName"] == "apiserver-client-ca"


def _shutdown(manifests: list[Manifest]) -> tuple[list[str] | None, int, float, float]:
    c, env = container(manifests), env_of(manifests)
    pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    return (
        pre_stop,
        pod_spec(manifests)["terminationGracePeriodSeconds"],
        float(env["KRW_DRAIN_SECONDS"]),
        float(env["KRW_SHUTDOWN_TIMEOUT"]),
    )


def test_grace_period_covers_the_pre_stop_pause_the_drain_and_the_shutdown() -> None:
    pre_stop, grace, drain, timeout = _shutdown(render())
    assert pre_stop == ["sleep", "5"]
    assert (drain, timeout) == (5, 10)
    assert grace == 25 >= 5 + drain + timeout


@pytest.mark.parametrize(
    ("pre_stop_sleep", "drain", "timeout", "margin", "pre_stop", "grace"),
    [(7, 3, 20, 2, ["sleep", "7"], 32), (0, 0, 30, 1, None, 31)],
)
def test_grace_period_is_computed_from_the_values(
    pre_stop_sleep: int,
    drain: int,
    timeout: int,
    margin: int,
    pre_stop: list[str] | None,
    grace: int,
) -> None:
    shutdown = {
        "preStopSleepSeconds": pre_stop_sleep,
        "drainSeconds": drain,
        "timeoutSeconds": timeout,
        "marginSeconds": margin,
    }
    got_pre_stop, got_grace, got_drain, got_timeout = _shutdown(render({"shutdown": shutdown}))
    assert got_pre_stop == pre_stop
    assert got_grace == grace
    assert (got_drain, got_timeout) == (drain, timeout)


def test_server_settings_by_default() -> None:
    manifests = render()
    assert container(manifests)["args"] == ["serve"]
    assert env_of(manifests) == {
        "KRW_HOST": "0.0.0.0",
        "KRW_PORT": "8443",
        "KRW_TLS_CERT_FILE": "/etc/kargo-rollback-webhook/tls/tls.crt",
        "KRW_TLS_KEY_FILE": "/etc/kargo-rollback-webhook/tls/tls.key",
        "KRW_TLS_MIN_VERSION": "1.2",
        "KRW_CERT_RELOAD_INTERVAL": "5",
        "KRW_CONTROLLER_USERNAME": "system:serviceaccount:kargo:kargo-controller",
        "KRW_ROLLBACK_ANNOTATION_MODE": "strip",
        "KRW_AUTOROLLBACK_SCHEMA": "any",
        "KRW_MAX_BODY_BYTES": "3670016",
        "KRW_MAX_CONCURRENCY": "256",
        "KRW_MAX_BODY_BYTES_IN_FLIGHT": "16777216",
        "KRW_MAX_DECISION_BYTES": "5242880",
        "KRW_MAX_CONNECTIONS": "1024",
        "KRW_MAX_CONNECTIONS_PER_CLIENT": "256",
        "KRW_LOG_LEVEL": "info",
        "KRW_DRAIN_SECONDS": "5",
        "KRW_SHUTDOWN_TIMEOUT": "10",
    }


def test_server_settings_follow_the_values() -> None:
    env = env_of(render(EVERYTHING))
    assert env["KRW_CONTROLLER_USERNAME"] == (
        "system:serviceaccount:kargo:kargo-controller,"
        "system:serviceaccount:kargo:kargo-controller-east"
    )
    assert env["KRW_AUTOROLLBACK_SCHEMA"] == "upstream"
    assert env["KRW_TLS_MIN_VERSION"] == "1.3"
    assert env["KRW_LOG_LEVEL"] == "debug"
    assert env["KRW_MAX_CONCURRENCY"] == "64"
    deny = env_of(render({"rollbackAnnotation": {"mode": "deny"}}))
    assert deny["KRW_ROLLBACK_ANNOTATION_MODE"] == "deny"


def test_default_controller_username_follows_the_kargo_namespace() -> None:
    env = env_of(render({"kargo": {"namespace": "kargo-system"}}))
    assert env["KRW_CONTROLLER_USERNAME"] == "system:serviceaccount:kargo-system:kargo-controller"


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_variable_set_is_a_setting_of_the_server(scenario: str) -> None:
    """The chart speaks the server's language: each KRW_* name is one the server reads."""
    known = {option.env for option in OPTIONS}
    assert set(env_of(render(all_scenarios()[scenario]))) <= known


def test_image_by_tag_or_digest() -> None:
    assert container(render())["image"] == "kargo-rollback-webhook:0.1.0"
    image: dict[str, Any] = {"repository": "registry.example/krw", "tag": "1.2.3"}
    assert container(render({"image": image}))["image"] == "registry.example/krw:1.2.3"
    image["digest"] = "sha256:" + "b" * 64
    assert container(render({"image": image}))["image"] == "registry.example/krw@sha256:" + "b" * 64


def test_network_policy_admits_the_https_port_only_and_no_egress() -> None:
    manifests = render({"networkPolicy": {"enabled": True}})
    policy = one(manifests, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == one(manifests, "Deployment")["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}]}]
    assert policy["egress"] == []
    peers = [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
    narrowed = one(
        render({"networkPolicy": {"enabled": True, "ingressFrom": peers}}), "NetworkPolicy"
    )
    assert narrowed["spec"]["ingress"][0]["from"] == peers


def test_optional_resources_are_off_by_default() -> None:
    manifests = render()
    assert of_kind(manifests, "NetworkPolicy") == of_kind(manifests, "ServiceMonitor") == []


def test_release_namespace_is_used_for_every_namespaced_reference() -> None:
    manifests = render(EVERYTHING)
    monitor = one(manifests, "ServiceMonitor")["spec"]
    assert monitor["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["selector"]["matchLabels"] == one(manifests, "Service")["spec"]["selector"]
