"""Certificates in each tls.mode: the caBundle the API server gets must verify the serving
certificate the pods mount, for the name the API server calls (<svc>.<namespace>.svc)."""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import DNSName
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from tests.chart.fake_apiserver import FakeAPIServer
from tests.chart.helm import (
    FULLNAME,
    NAMESPACE,
    Manifest,
    container,
    env_of,
    helm_with_values,
    of_kind,
    one,
    parse_manifests,
    pod_spec,
    render,
    render_error,
    render_fresh,
    template_command,
    webhooks,
)
from tests.chart.scenarios import EXISTING_TLS_SECRET, ca_pem, modes

SERVICE_DNS_NAME = f"{FULLNAME}.{NAMESPACE}.svc"
TLS_SECRET = f"{FULLNAME}-tls"


def _ca_bundles(manifests: list[Manifest]) -> set[str]:
    return {hook["clientConfig"].get("caBundle", "") for hook in webhooks(manifests)}


def _secret_data(manifests: list[Manifest]) -> dict[str, bytes]:
    secret = one(manifests, "Secret")
    return {key: base64.b64decode(value) for key, value in secret["data"].items()}


def _mounted_secret(manifests: list[Manifest]) -> str:
    """The Secret behind the files the server is told to serve (KRW_TLS_*_FILE)."""
    env = env_of(manifests)
    (mount,) = [
        m
        for m in container(manifests)["volumeMounts"]
        if env["KRW_TLS_CERT_FILE"] == f"{m['mountPath']}/tls.crt"
        and env["KRW_TLS_KEY_FILE"] == f"{m['mountPath']}/tls.key"
    ]
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "a subPath mount never sees a renewed certificate"
    (volume,) = [v for v in pod_spec(manifests)["volumes"] if v["name"] == mount["name"]]
    name: str = volume["secret"]["secretName"]
    return name


def _verify(ca_pem_bytes: bytes, cert_pem: bytes, dns_name: str) -> None:
    store = Store(x509.load_pem_x509_certificates(ca_pem_bytes))
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(datetime.datetime.now(datetime.UTC))
        .build_server_verifier(DNSName(dns_name))
    )
    verifier.verify(x509.load_pem_x509_certificate(cert_pem), [])


def test_helm_mode_ca_bundle_verifies_the_serving_certificate_for_the_service() -> None:
    manifests = render(modes("helm", "strip"))
    secret = one(manifests, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"] == TLS_SECRET == _mounted_secret(manifests)
    data = _secret_data(manifests)

    (bundle,) = _ca_bundles(manifests)
    ca = base64.b64decode(bundle)
    assert ca == data["ca.crt"]
    for name in (
        SERVICE_DNS_NAME,
        f"{SERVICE_DNS_NAME}.cluster.local",
        f"{FULLNAME}.{NAMESPACE}",
        FULLNAME,
    ):
        _verify(ca, data["tls.crt"], name)
    with pytest.raises(VerificationError):
        _verify(ca, data["tls.crt"], f"{FULLNAME}.other-namespace.svc")


def test_helm_mode_key_belongs_to_the_certificate() -> None:
    data = _secret_data(render())
    cert = x509.load_pem_x509_certificate(data["tls.crt"])
    key = serialization.load_pem_private_key(data["tls.key"], password=None)
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*public) == cert.public_key().public_bytes(*public)


def test_helm_mode_validity_follows_the_values() -> None:
    values = {"tls": {"helm": {"caValidityDays": 400, "certValidityDays": 90}}}
    data = _secret_data(render(values))
    for pem, days in ((data["ca.crt"], 400), (data["tls.crt"], 90)):
        cert = x509.load_pem_x509_certificate(pem)
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        assert abs(lifetime - datetime.timedelta(days=days)) < datetime.timedelta(days=1)


def _pod_annotations(manifests: list[Manifest]) -> dict[str, str]:
    metadata = one(manifests, "Deployment")["spec"]["template"]["metadata"]
    annotations: dict[str, str] = metadata.get("annotations", {})
    return annotations


def test_helm_mode_pods_restart_when_the_certificate_changes() -> None:
    # Without a cluster to look the Secret up in, every render generates a new certificate.
    first, second = render_fresh(), render_fresh()
    assert _ca_bundles(first) != _ca_bundles(second)
    assert _pod_annotations(first)["checksum/tls"] != _pod_annotations(second)["checksum/tls"]
    # A hash of the certificate, never of the key.
    expected = hashlib.sha256(_secret_data(first)["tls.crt"]).hexdigest()
    assert _pod_annotations(first)["checksum/tls"] == expected
    for tls_mode in ("certManager", "secret"):
        assert "checksum/tls" not in _pod_annotations(render(modes(tls_mode, "strip")))


def _helm_template_against(fake: FakeAPIServer, tmp_path: Path) -> list[Manifest]:
    """`helm template --dry-run=server`: renders with `lookup` answered by the fake cluster."""
    with fake.serving(tmp_path / "kubeconfig") as kubeconfig:
        result = helm_with_values(
            [*template_command(), "--dry-run=server", "--disable-openapi-validation"],
            {},
            env={"KUBECONFIG": str(kubeconfig)},
        )
    assert result.returncode == 0, result.stderr
    return parse_manifests(result.stdout)


def _as_live_secret(secret: Manifest) -> dict[str, Any]:
    """The Secret as the cluster returns it after an install by helm."""
    live = {**secret, "metadata": dict(secret["metadata"])}
    live["metadata"]["annotations"] = {
        "meta.helm.sh/release-name": "krw",
        "meta.helm.sh/release-namespace": NAMESPACE,
    }
    return live


def test_helm_mode_keeps_the_existing_certificate_on_upgrade(tmp_path: Path) -> None:
    fake = FakeAPIServer()
    installed = _helm_template_against(fake, tmp_path)
    secret_path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{TLS_SECRET}"
    assert secret_path in fake.requests, "the chart must look its Secret up"

    fake.secrets[(NAMESPACE, TLS_SECRET)] = _as_live_secret(one(installed, "Secret"))
    upgraded = _helm_template_against(fake, tmp_path)

    assert one(upgraded, "Secret")["data"] == one(installed, "Secret")["data"]
    assert _ca_bundles(upgraded) == _ca_bundles(installed)
    # The same certificate gives the same checksum: an upgrade restarts no pod for TLS.
    assert _pod_annotations(upgraded) == _pod_annotations(installed)


def test_helm_mode_regenerates_when_the_secret_lacks_a_key(tmp_path: Path) -> None:
    fake = FakeAPIServer()
    installed = _helm_template_against(fake, tmp_path)
    broken = _as_live_secret(one(installed, "Secret"))
    broken["data"] = {k: v for k, v in broken["data"].items() if k != "tls.key"}
    fake.secrets[(NAMESPACE, TLS_SECRET)] = broken

    regenerated = _helm_template_against(fake, tmp_path)
    data = _secret_data(regenerated)
    assert set(data) == {"ca.crt", "tls.crt", "tls.key"}
    assert data["ca.crt"] != base64.b64decode(broken["data"]["ca.crt"])
    (bundle,) = _ca_bundles(regenerated)
    _verify(base64.b64decode(bundle), data["tls.crt"], SERVICE_DNS_NAME)


def _certificates(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {c["metadata"]["name"]: c for c in of_kind(manifests, "Certificate")}


def _issuers(manifests: list[Manifest]) -> dict[str, Manifest]:
    return {i["metadata"]["name"]: i for i in of_kind(manifests, "Issuer")}


@pytest.mark.parametrize("annotation_mode", ["strip", "deny"])
def test_cert_manager_mode_injects_the_serving_certificates_ca(annotation_mode: str) -> None:
    manifests = render(modes("certManager", annotation_mode))
    serving = _certificates(manifests)[FULLNAME]
    configurations = [
        m
        for m in manifests
        if m["kind"] in {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    ]
    assert len(configurations) == (2 if annotation_mode == "strip" else 1)
    for configuration in configurations:
        annotations = configuration["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/{FULLNAME}"
    assert _ca_bundles(manifests) == {""}, "cert-manager's CA injector owns the caBundle"
    assert of_kind(manifests, "Secret") == []
    assert serving["spec"]["secretName"] == _mounted_secret(manifests)
    assert SERVICE_DNS_NAME in serving["spec"]["dnsNames"]
    assert "server auth" in serving["spec"]["usages"]


def test_cert_manager_mode_builds_its_own_ca_chain() -> None:
    """self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate: renewing the
    serving certificate keeps the CA, so the injected caBundle stays valid."""
    manifests = render(modes("certManager", "strip"))
    certificates, issuers = _certificates(manifests), _issuers(manifests)
    serving_issuer = issuers[certificates[FULLNAME]["spec"]["issuerRef"]["name"]]
    ca_certificate = next(
        c
        for c in certificates.values()
        if c["spec"]["secretName"] == serving_issuer["spec"]["ca"]["secretName"]
    )
    assert ca_certificate["spec"]["isCA"] is True
    root_issuer = issuers[ca_certificate["spec"]["issuerRef"]["name"]]
    assert root_issuer["spec"] == {"selfSigned": {}}


def test_cert_manager_mode_uses_a_given_issuer_alone() -> None:
    issuer_ref = {"name": "cluster-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    values = modes("certManager", "strip")
    values["tls"]["certManager"] = {"issuerRef": issuer_ref}
    manifests = render(values)
    assert of_kind(manifests, "Issuer") == []
    (serving,) = of_kind(manifests, "Certificate")
    assert serving["spec"]["issuerRef"] == issuer_ref


@pytest.mark.parametrize("annotation_mode", ["strip", "deny"])
def test_secret_mode_uses_the_given_secret_and_ca(annotation_mode: str) -> None:
    manifests = render(modes("secret", annotation_mode))
    (bundle,) = _ca_bundles(manifests)
    assert base64.b64decode(bundle).decode("ascii") == ca_pem()
    assert _mounted_secret(manifests) == EXISTING_TLS_SECRET
    assert of_kind(manifests, "Secret") == of_kind(manifests, "Certificate") == []


def test_secret_mode_requires_the_secret_and_the_ca() -> None:
    assert "/tls/secret/name" in render_error({"tls": {"mode": "secret", "caBundle": ca_pem()}})
    missing_ca = {"tls": {"mode": "secret", "secret": {"name": EXISTING_TLS_SECRET}}}
    assert "/tls/caBundle" in render_error(missing_ca)
    not_pem = {"tls": {"mode": "secret", "secret": {"name": "x"}, "caBundle": "LS0tLS1CRUdJTg=="}}
    assert "/tls/caBundle" in render_error(not_pem)


def test_service_monitor_verifies_the_serving_certificate() -> None:
    manifests = render({"serviceMonitor": {"enabled": True}})
    (endpoint,) = one(manifests, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["path"] == "/metrics"
    assert endpoint["tlsConfig"] == {
        "serverName": SERVICE_DNS_NAME,
        "ca": {"secret": {"name": TLS_SECRET, "key": "ca.crt"}},
    }
