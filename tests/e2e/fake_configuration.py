"""Webhook configurations for the fake webhook (fake_webhook.py), as a third party would write
them: one webhook on Promotions, whatever kind, policy and conditions a test needs."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.fake_webhook import Behaviour, Reply, Review, answer

DNS_NAME = "fake-webhook.example.svc"


def configuration(
    ca_bundle: bytes,
    *,
    name: str = "fake.example.com",
    mutating: bool = True,
    failure_policy: str = "Fail",
    host: str = DNS_NAME,
    port: int | None = 443,
    operations: Sequence[str] = ("CREATE", "UPDATE"),
    timeout_seconds: int = 5,
    match_conditions: Sequence[dict[str, str]] = (),
    reinvocation: str = "Never",
    configuration_name: str | None = None,
) -> dict[str, Any]:
    """One webhook's configuration; `port` None leaves the port out of the URL (443 implied)."""
    authority = host if port is None else f"{host}:{port}"
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": {
            "url": f"https://{authority}/{'mutate' if mutating else 'validate'}",
            "caBundle": base64.b64encode(ca_bundle).decode(),
        },
        "rules": [
            {
                "apiGroups": ["kargo.akuity.io"],
                "apiVersions": ["v1alpha1"],
                "operations": list(operations),
                "resources": ["promotions"],
                "scope": "Namespaced",
            }
        ],
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": failure_policy,
        "timeoutSeconds": timeout_seconds,
    }
    if match_conditions:
        hook["matchConditions"] = list(match_conditions)
    if mutating:
        hook["reinvocationPolicy"] = reinvocation
    kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": configuration_name or name.split(".", maxsplit=1)[0]},
        "webhooks": [hook],
    }


@dataclass
class Switch:
    """A behaviour a test can change between calls; records every review it was sent."""

    behaviour: Behaviour = answer
    seen: list[Review] = field(default_factory=list)

    def __call__(self, review: Review) -> Reply:
        self.seen.append(review)
        return self.behaviour(review)
