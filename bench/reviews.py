"""The AdmissionReview bodies the benchmark sends: what the API server sends on real writes."""

from __future__ import annotations

from typing import Any, Final

import orjson

ANNOTATION: Final = "kargo.akuity.io/rollback"
USER: Final = "alice@example.com"


def _review(kind: str, resource: str, obj: dict[str, Any], uid: str) -> bytes:
    gvk = {"group": "kargo.akuity.io", "version": "v1alpha1", "kind": kind}
    gvr = {"group": "kargo.akuity.io", "version": "v1alpha1", "resource": resource}
    request = {
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": obj["metadata"]["name"],
        "namespace": obj["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {
            "username": USER,
            "uid": "5f1c1e52-2b1c-4a57-9d0c-7d3c2f1b9a10",
            "groups": ["platform-team", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": ["X509SHA256=4a1f..."]},
        },
        "object": obj,
        "oldObject": None,
        "dryRun": False,
        "options": {
            "kind": "CreateOptions",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kargo",
        },
    }
    return orjson.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    )


def promotion_create() -> bytes:
    """A user's Promotion CREATE carrying the rollback annotation: the mutating path patches it."""
    obj = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": {
            "name": "prod.01jc3m8y2v9k7r5q4w6e8t0a1b.4f5e6d7",
            "generateName": "prod.",
            "namespace": "checkout",
            "labels": {"kargo.akuity.io/stage": "prod"},
            "annotations": {
                ANNOTATION: "true",
                "kargo.akuity.io/create-actor": f"email:{USER}",
            },
        },
        "spec": {
            "stage": "prod",
            "freight": "4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2",
            "steps": [
                {
                    "uses": "git-clone",
                    "config": {
                        "repoURL": "https://git.example/checkout.git",
                        "checkout": [
                            {"branch": "main", "path": "./src"},
                            {"branch": "stage/prod", "create": True, "path": "./out"},
                        ],
                    },
                },
                {"uses": "git-clear", "config": {"path": "./out"}},
                {
                    "uses": "kustomize-set-image",
                    "as": "update-image",
                    "config": {
                        "path": "./src/base",
                        "images": [{"image": "registry.example/checkout"}],
                    },
                },
                {
                    "uses": "kustomize-build",
                    "config": {"path": "./src/stages/prod", "outPath": "./out"},
                },
                {
                    "uses": "git-commit",
                    "as": "commit",
                    "config": {
                        "path": "./out",
                        "message": "${{ outputs['update-image'].commitMessage }}",
                    },
                },
                {"uses": "git-push", "config": {"path": "./out"}},
                {
                    "uses": "argocd-update",
                    "if": "${{ !ctx.meta.promotion.rollback }}",
                    "config": {
                        "apps": [
                            {
                                "name": "checkout-prod",
                                "sources": [
                                    {
                                        "repoURL": "https://git.example/checkout.git",
                                        "desiredRevision": "${{ outputs.commit.commit }}",
                                    }
                                ],
                            }
                        ]
                    },
                },
            ],
        },
    }
    return _review("Promotion", "promotions", obj, "8c0a5b9e-2f0d-4e35-9a51-1d6f0e7b3c42")


def project_config(policies: int, *, regex_every: int = 10) -> bytes:
    """A valid ProjectConfig with `policies` promotion policies, one in `regex_every` a regex."""
    items: list[dict[str, Any]] = []
    for i in range(policies):
        if i % regex_every == 0:
            selector: dict[str, Any] = {"name": f"regex:^svc-{i}-[a-z0-9]+(-canary)?$"}
        elif i % regex_every == 1:
            selector = {
                "matchLabels": {"app.kubernetes.io/name": f"svc-{i}", "tier": "backend"},
                "matchExpressions": [
                    {"key": "environment", "operator": "In", "values": ["prod", "staging"]},
                    {"key": "kargo.akuity.io/frozen", "operator": "DoesNotExist"},
                ],
            }
        else:
            selector = {"name": f"stage-{i}"}
        policy: dict[str, Any] = {"stageSelector": selector, "autoPromotionEnabled": i % 2 == 0}
        if "name" in selector and not selector["name"].startswith("regex:"):
            policy["autoRollback"] = {
                "onPromotion": ["Failed"],
                "onVerification": ["Failed", "Error"],
            }
        items.append(policy)
    obj = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": "checkout", "namespace": "checkout", "generation": 1},
        "spec": {"promotionPolicies": items},
    }
    return _review("ProjectConfig", "projectconfigs", obj, "1b2c3d4e-5f60-4718-92a3-b4c5d6e7f809")
