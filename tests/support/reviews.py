"""Builders for AdmissionReview requests used across the tests."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

CONTROLLER = "system:serviceaccount:kargo:kargo-controller"
KEY = "kargo.akuity.io/rollback"


def promotion(
    annotations: dict[str, Any] | None = None, *, name: str = "p1", namespace: str = "proj"
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Promotion",
        "metadata": metadata,
        "spec": {"stage": "prod", "freight": "abc123"},
    }


def project_config(
    policies: list[Any] | None = None,
    *,
    name: str = "proj",
    namespace: str = "proj",
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": name, "namespace": namespace},
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
