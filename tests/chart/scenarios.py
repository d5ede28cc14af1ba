"""Named sets of values the chart is rendered with: every tls.mode by both annotation modes, and
every optional feature switched on at once."""

from __future__ import annotations

import datetime
import functools
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TLS_MODES = ("helm", "certManager", "secret")
ANNOTATION_MODES = ("strip", "deny")
EXISTING_TLS_SECRET = "webhook-serving-cert"


@functools.cache
def ca_pem() -> str:
    """A self-signed CA certificate, as a user would pass in tls.caBundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test webhook CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def modes(tls_mode: str, annotation_mode: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tls": {"mode": tls_mode},
        "rollbackAnnotation": {"mode": annotation_mode},
    }
    if tls_mode == "secret":
        values["tls"] |= {"secret": {"name": EXISTING_TLS_SECRET}, "caBundle": ca_pem()}
    return values


# Every optional resource and setting on, with non-default values everywhere.
EVERYTHING: dict[str, Any] = {
    "replicaCount": 3,
    "controller": {
        "usernames": [
            "system:serviceaccount:kargo:kargo-controller",
            "system:serviceaccount:kargo:kargo-controller-east",
        ]
    },
    "autoRollbackSchema": "upstream",
    "failurePolicy": "Ignore",
    "timeoutSeconds": 10,
    "namespaceSelector": {"kargoProjectsOnly": True, "excludedNamespaces": ["monitoring"]},
    "matchConditions": [
        {
            "name": "not-a-node",
            "expression": "!request.userInfo.username.startsWith('system:node:')",
        }
    ],
    "image": {
        "repository": "registry.example/kargo-rollback-webhook",
        "digest": "sha256:" + "a" * 64,
    },
    "imagePullSecrets": [{"name": "pull-secret"}],
    "server": {"logLevel": "debug", "maxConcurrency": 64},
    "tls": {
        "mode": "certManager",
        "minVersion": "1.3",
        "certManager": {
            "issuerRef": {"name": "cluster-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
        },
        "clientCA": {"secretName": "apiserver-client-ca"},
    },
    "serviceAccount": {"annotations": {"example.com/owner": "platform"}},
    "service": {"annotations": {"example.com/owner": "platform"}},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}
    ],
    "affinity": {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 1,
                    "preference": {
                        "matchExpressions": [
                            {"key": "node-role.kubernetes.io/infra", "operator": "Exists"}
                        ]
                    },
                }
            ]
        }
    },
    "podAnnotations": {"example.com/team": "platform"},
    "podLabels": {"example.com/team": "platform"},
    "podDisruptionBudget": {"minAvailable": 2},
    "networkPolicy": {"enabled": True, "ingressFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "validatingAdmissionPolicy": {"enabled": True},
    # Above the budget's minAvailable of 2, as the chart requires.
    "autoscaling": {
        "enabled": True,
        "minReplicas": 3,
        "maxReplicas": 8,
        "targetCPUUtilizationPercentage": 60,
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}},
    },
    "prometheusRule": {
        "enabled": True,
        "labels": {"release": "prometheus"},
        "runbookBaseURL": "https://docs.example.com/kargo-rollback-webhook/docs/operating.md",
        "certificateExpiryWarningDays": 14,
        "decisionLatencyP99Seconds": 0.1,
    },
    "grafanaDashboard": {
        "enabled": True,
        "labels": {"team": "platform"},
        "annotations": {"grafana_folder": "Kargo"},
    },
}

# OpenShift: the restricted-v2 SCC assigns UID, GID and fsGroup.
OPENSHIFT: dict[str, Any] = {
    "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None}
}


def all_scenarios() -> dict[str, dict[str, Any]]:
    scenarios = {
        f"tls={tls}, annotation={annotation}": modes(tls, annotation)
        for tls in TLS_MODES
        for annotation in ANNOTATION_MODES
    }
    scenarios["everything on"] = EVERYTHING
    scenarios["openshift"] = OPENSHIFT
    scenarios["secret mode with a ServiceMonitor"] = modes("secret", "strip") | {
        "serviceMonitor": {"enabled": True}
    }
    scenarios["certManager with the chart's own CA, no preStop"] = modes("certManager", "strip") | {
        "shutdown": {"preStopSleepSeconds": 0},
        "serviceAccount": {"create": False, "name": "existing"},
        "podDisruptionBudget": {"enabled": False},
    }
    return scenarios


SCENARIO_NAMES = tuple(all_scenarios())
