"""Every rendered manifest is a valid object of a current Kubernetes release.

Built-in kinds are validated against the OpenAPI schemas bundled with kubernetes-validate (its
newest release, strict: unknown fields are errors). cert-manager's and the Prometheus Operator's
kinds are not in those schemas: a PrometheusRule is validated strictly against the schema in
schemas/ (written from the operator's CRD), the others' basic shape is checked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.chart.helm import FULLNAME, NAMESPACE, Manifest, of_kind, one, render
from tests.chart.scenarios import SCENARIO_NAMES, all_scenarios

KUBERNETES_VERSION: str = kubernetes_validate.latest_version()

GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# cert-manager's KeyUsage enum (cert-manager.io/v1).
CERT_MANAGER_USAGES = {
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement",
    "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
    "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
    "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
}  # fmt: skip


def _keys_within(obj: Manifest, allowed: set[str], where: str) -> None:
    unknown = set(obj) - allowed
    assert not unknown, f"{where}: unknown fields {sorted(unknown)}"


def _check_issuer_ref(ref: Manifest, where: str) -> None:
    _keys_within(ref, {"name", "kind", "group"}, where)
    assert isinstance(ref["name"], str), where
    assert ref["name"], where
    assert ref.get("kind", "Issuer") in {"Issuer", "ClusterIssuer"}, where


def check_certificate(m: Manifest) -> None:
    spec = m["spec"]
    _keys_within(
        spec,
        {"secretName", "dnsNames", "commonName", "isCA", "duration", "renewBefore", "usages",
         "privateKey", "issuerRef", "secretTemplate", "subject", "ipAddresses"},
        "Certificate.spec",
    )  # fmt: skip
    assert DNS_SUBDOMAIN.match(spec["secretName"])
    _check_issuer_ref(spec["issuerRef"], "Certificate.spec.issuerRef")
    assert spec.get("dnsNames") or spec.get("commonName"), "a Certificate needs a name"
    for name in spec.get("dnsNames", []):
        assert DNS_SUBDOMAIN.match(name), name
    for field in ("duration", "renewBefore"):
        if field in spec:
            assert GO_DURATION.match(spec[field]), f"{field}: {spec[field]!r}"
    assert set(spec.get("usages", [])) <= CERT_MANAGER_USAGES
    if "privateKey" in spec:
        key = spec["privateKey"]
        _keys_within(key, {"algorithm", "size", "rotationPolicy", "encoding"}, "privateKey")
        assert key.get("algorithm", "RSA") in {"RSA", "ECDSA", "Ed25519"}
        assert key.get("rotationPolicy", "Always") in {"Always", "Never"}
    if "isCA" in spec:
        assert isinstance(spec["isCA"], bool)


def check_issuer(m: Manifest) -> None:
    spec = m["spec"]
    kinds = set(spec) & {"selfSigned", "ca", "acme", "vault", "venafi"}
    assert len(kinds) == 1, f"an Issuer has exactly one type: {spec}"
    assert set(spec) == kinds, f"an Issuer has nothing but its type: {spec}"
    if "ca" in spec:
        _keys_within(spec["ca"], {"secretName", "crlDistributionPoints", "ocspServers"}, "ca")
        assert DNS_SUBDOMAIN.match(spec["ca"]["secretName"])
    if "selfSigned" in spec:
        assert isinstance(spec["selfSigned"], dict)


def check_service_monitor(m: Manifest) -> None:
    spec = m["spec"]
    _keys_within(spec, {"selector", "namespaceSelector", "endpoints", "jobLabel"}, "spec")
    assert spec["selector"]["matchLabels"]
    assert spec["endpoints"]
    for endpoint in spec["endpoints"]:
        _keys_within(
            endpoint,
            {"port", "scheme", "path", "interval", "scrapeTimeout", "tlsConfig", "relabelings"},
            "endpoint",
        )
        assert isinstance(endpoint["port"], str), "endpoints name the Service port"
        assert endpoint["scheme"] in {"http", "https"}
        assert endpoint["path"].startswith("/")
        for field in ("interval", "scrapeTimeout"):
            assert PROMETHEUS_DURATION.match(endpoint[field]), endpoint[field]
        tls_config = endpoint.get("tlsConfig", {})
        _keys_within(
            tls_config,
            {"ca", "cert", "keySecret", "serverName", "insecureSkipVerify"},
            "tlsConfig",
        )
        if "ca" in tls_config:
            ref = tls_config["ca"]["secret"]
            assert set(ref) == {"name", "key"}


PROMETHEUS_RULE_SCHEMA = json.loads(
    (Path(__file__).with_name("schemas") / "prometheusrule-v1.json").read_text(encoding="utf-8")
)


def check_prometheus_rule(m: Manifest) -> None:
    errors = sorted(
        jsonschema.Draft7Validator(PROMETHEUS_RULE_SCHEMA).iter_errors(m), key=lambda e: e.path
    )
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    # The CRD's list-map key: group names are unique.
    names = [group["name"] for group in m["spec"]["groups"]]
    assert len(names) == len(set(names)), names


CUSTOM_RESOURCES: dict[tuple[str, str], Callable[[Manifest], None]] = {
    ("cert-manager.io/v1", "Certificate"): check_certificate,
    ("cert-manager.io/v1", "Issuer"): check_issuer,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): check_service_monitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): check_prometheus_rule,
}


def _scenario(name: str) -> list[Manifest]:
    return render(all_scenarios()[name])


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_manifest_is_valid_for_a_current_kubernetes(scenario: str) -> None:
    manifests = _scenario(scenario)
    assert manifests
    for m in manifests:
        where = f"{m['kind']}/{m['metadata']['name']}"
        check = CUSTOM_RESOURCES.get((m["apiVersion"], m["kind"]))
        if check is not None:
            assert set(m) == {"apiVersion", "kind", "metadata", "spec"}, where
            assert DNS_SUBDOMAIN.match(m["metadata"]["name"]), where
            check(m)
            continue
        try:
            kubernetes_validate.validate(m, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(
                f"{where} invalid for Kubernetes {KUBERNETES_VERSION}: {path}: {exc.message}"
            )
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(f"{where}: {exc.message}; add a shape check for this custom resource")


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_resource_carries_the_recommended_labels(scenario: str) -> None:
    for m in _scenario(scenario):
        labels = m["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "kargo-rollback-webhook"
        assert labels["app.kubernetes.io/instance"] == "krw"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/component"] == "admission-webhook"
        assert labels["app.kubernetes.io/part-of"] == "kargo"
        assert labels["helm.sh/chart"] == "kargo-rollback-webhook-0.1.0"


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_namespaced_resources_live_in_the_release_namespace(scenario: str) -> None:
    cluster_scoped = {
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    for m in _scenario(scenario):
        if m["kind"] in cluster_scoped:
            assert "namespace" not in m["metadata"]
        else:
            assert m["metadata"]["namespace"] == NAMESPACE


def _kinds(values: dict[str, Any]) -> list[str]:
    return sorted(m["kind"] for m in render(values))


BASE_KINDS = ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"]
VALIDATING = ["ValidatingWebhookConfiguration"]
MUTATING = ["MutatingWebhookConfiguration"]


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("tls=helm, annotation=strip", BASE_KINDS + MUTATING + VALIDATING + ["Secret"]),
        ("tls=helm, annotation=deny", BASE_KINDS + VALIDATING + ["Secret"]),
        (
            "tls=certManager, annotation=strip",
            BASE_KINDS + MUTATING + VALIDATING + ["Certificate"] * 2 + ["Issuer"] * 2,
        ),
        ("tls=secret, annotation=strip", BASE_KINDS + MUTATING + VALIDATING),
        ("tls=secret, annotation=deny", BASE_KINDS + VALIDATING),
        (
            "everything on",
            BASE_KINDS
            + MUTATING
            + VALIDATING
            + ["Certificate", "NetworkPolicy", "ServiceMonitor"]
            + ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
            + ["PrometheusRule", "ConfigMap", "HorizontalPodAutoscaler"],
        ),
    ],
)
def test_each_configuration_renders_exactly_its_resources(
    scenario: str, expected: list[str]
) -> None:
    assert _kinds(all_scenarios()[scenario]) == sorted(expected)


def test_only_one_of_each_name_per_kind() -> None:
    manifests = _scenario("everything on")
    seen = [(m["kind"], m["metadata"]["name"]) for m in manifests]
    assert len(seen) == len(set(seen))
    assert one(manifests, "Service")["metadata"]["name"] == FULLNAME
    assert of_kind(manifests, "ServiceMonitor")[0]["metadata"]["labels"]["release"] == "prometheus"


def test_the_rule_schema_refuses_what_the_operator_would() -> None:
    """The strict schema is not a rubber stamp: a typo, a bad duration and a rule without expr."""
    (rule,) = of_kind(_scenario("everything on"), "PrometheusRule")
    first = rule["spec"]["groups"][0]["rules"][0]
    for key, value in [("fro", "5m"), ("for", "5 minutes")]:
        broken = json.loads(json.dumps(rule))
        broken["spec"]["groups"][0]["rules"][0][key] = value
        with pytest.raises(AssertionError):
            check_prometheus_rule(broken)
    broken = json.loads(json.dumps(rule))
    del broken["spec"]["groups"][0]["rules"][0]["expr"]
    with pytest.raises(AssertionError):
        check_prometheus_rule(broken)
    assert first["alert"]
