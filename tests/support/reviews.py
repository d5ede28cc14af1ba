"""Builders for the Kargo objects and AdmissionReview requests the tests and benchmarks send: one
Promotion and one ProjectConfig builder for unit, integration and end-to-end tests alike."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

CONTROLLER = "system:serviceaccount:kargo:kargo-controller"
KEY = "kargo.akuity.io/rollback"
# The Project (namespace) objects live in unless a test says otherwise.
PROJECT = "proj"


def promotion(
    annotations: dict[str, Any] | None = None, *, name: str = "p1", namespace: str = PROJECT
) -> dict[str, Any]:
    """A Promotion as Kargo writes one: its steps skip the approval step for a rollback, which is
    why who may set the annotation matters."""
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


def project_config(
    policies: list[Any] | None = None,
    *,
    name: str | None = None,
    namespace: str = PROJECT,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ProjectConfig with these promotion policies (or this whole spec), named after its
    Project's namespace unless `name` says otherwise."""
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": namespace if name is None else name, "namespace": namespace},
        "spec": spec if spec is not None else {"promotionPolicies": policies or []},
    }


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    username: str = "alice",
    kind: str | None = None,
    version: str = "v1alpha1",
    api_version: str = "admission.k8s.io/v1",
    uid: str | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    source = obj if obj is not None else old
    kind = kind or (source or {}).get("kind", "Promotion")
    metadata = (source or {}).get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    resource = "projectconfigs" if kind == "ProjectConfig" else "promotions"
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": "kargo.akuity.io", "version": version, "kind": kind},
        "resource": {"group": "kargo.akuity.io", "version": version, "resource": resource},
        "requestKind": {"group": "kargo.akuity.io", "version": version, "kind": kind},
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": username, "uid": "u-1", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": None,
    }
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": request}


def slow_to_decide_review(uid: str, policies: int = 20_000) -> bytes:
    """A valid ProjectConfig review (about 2.4 MB) that takes a few hundred milliseconds to
    decode and decide: distinct regexes and label selectors, nothing cached."""
    items: list[dict[str, Any]] = []
    for i in range(policies):
        if i % 2 == 0:
            items.append({"stageSelector": {"name": f"regex:^svc-{i}-[a-z0-9]+(-canary)?$"}})
        else:
            labels = {"app.kubernetes.io/name": f"svc-{i}", "tier": "backend"}
            items.append({"stageSelector": {"matchLabels": labels}})
    return orjson.dumps(review(project_config(items), uid=uid))
