"""The AdmissionReview the stand-in sends a webhook, and the `request` its matchConditions see.

k8s.io/apiserver `pkg/admission/plugin/webhook/request/admissionreview.go`,
`CreateV1AdmissionReview` (the review), and `pkg/admission/plugin/cel/condition.go`,
`CreateAdmissionRequest` (the same request without uid and objects, for CEL). The webhook gets
the object in the version it matched (`matchPolicy: Equivalent`; the CRDs' conversion is
`None`, so only `apiVersion` changes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from tests.e2e import match_conditions, schema

REVIEW_VERSION: Final = "admission.k8s.io/v1"


@dataclass(frozen=True, slots=True)
class User:
    username: str
    groups: tuple[str, ...] = ("system:authenticated",)
    uid: str = ""


def gvk(resource: schema.Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def gvr(resource: schema.Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "resource": resource.plural}


def options(operation: str) -> dict[str, str]:
    kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(operation, "DeleteOptions")
    return {"kind": kind, "apiVersion": "meta.k8s.io/v1"}


def converted(
    hook_resource: schema.Resource, resource: schema.Resource
) -> Callable[[Mapping[str, Any] | None], Mapping[str, Any] | None]:
    """The object in the version the webhook asked for."""

    def convert(o: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        if o is None or hook_resource == resource:
            return o
        return {**o, "apiVersion": hook_resource.api_version}

    return convert


def _metadata(obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None) -> Mapping[str, Any]:
    source = obj if obj is not None else old
    return (source or {}).get("metadata") or {}


def build(
    hook_resource: schema.Resource,
    resource: schema.Resource,
    operation: str,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    user: User,
    dry_run: bool,
) -> tuple[str, bytes]:
    """A new uid and the review's bytes."""
    metadata = _metadata(obj, old)
    uid = str(uuid.uuid4())
    convert = converted(hook_resource, resource)
    request = {
        "uid": uid,
        "kind": gvk(hook_resource),
        "resource": gvr(hook_resource),
        "requestKind": gvk(resource),
        "requestResource": gvr(resource),
        "name": metadata.get("name", ""),
        "namespace": metadata.get("namespace", ""),
        "operation": operation,
        "userInfo": {"username": user.username, "uid": user.uid, "groups": list(user.groups)},
        "object": convert(obj),
        "oldObject": convert(old),
        "dryRun": dry_run,
        "options": options(operation),
    }
    review = {"apiVersion": REVIEW_VERSION, "kind": "AdmissionReview", "request": request}
    return uid, orjson.dumps(review)


def cel_request(
    hook_resource: schema.Resource,
    resource: schema.Resource,
    operation: str,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    user: User,
    dry_run: bool,
) -> dict[str, Any]:
    """`request` as a matchCondition sees it."""
    metadata = _metadata(obj, old)
    return match_conditions.admission_request(
        kind=gvk(hook_resource),
        resource=gvr(hook_resource),
        request_kind=gvk(resource),
        request_resource=gvr(resource),
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        operation=operation,
        username=user.username,
        user_uid=user.uid,
        groups=user.groups,
        dry_run=dry_run,
        options=options(operation),
    )
