"""Kargo objects as users and the controller write them (valid against the CRDs in crds/)."""

from __future__ import annotations

from typing import Any, Final

from tests.e2e.apiserver import User
from tests.e2e.cluster import PROJECT

ANNOTATION: Final = "kargo.akuity.io/rollback"
CONTROLLER: Final = User(
    "system:serviceaccount:kargo:kargo-controller",
    groups=("system:serviceaccounts", "system:serviceaccounts:kargo", "system:authenticated"),
)
ALICE: Final = User("alice@example.com")


def promotion(
    name: str, *, annotations: dict[str, Any] | None = None, namespace: str = PROJECT
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": metadata,
        "spec": {
            "stage": "prod",
            "freight": "f3a9c0e1d2b4",
            "steps": [
                {"uses": "git-clone", "config": {"repoURL": "https://git.example/app.git"}},
                {"uses": "argocd-update", "if": "${{ !ctx.meta.promotion.rollback }}"},
            ],
        },
    }


def project_config(policies: list[Any], *, namespace: str = PROJECT) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": namespace, "namespace": namespace},
        "spec": {"promotionPolicies": policies},
    }
