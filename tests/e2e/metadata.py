"""The system fields of an object's metadata, as kube-apiserver sets and guards them for a
custom resource.

CREATE (k8s.io/apiserver `endpoints/handlers/create.go`, `createHandler`; `registry/generic/
registry/store.go`, `Store.create`; `registry/rest/create.go`, `BeforeCreate`; apiextensions-
apiserver `registry/customresource/strategy.go`, `PrepareForCreate`):

1. `wipe_for_create`, before the mutating webhooks (`rest.WipeObjectMetaSystemFields`): a
   client's `uid`, `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds` and
   `selfLink` are removed, so no webhook sees an object "created being deleted";
2. `fill_on_create`, after them (`rest.FillObjectMetaSystemFields`, then `PrepareForCreate`):
   a new `uid` and `creationTimestamp` (whatever a webhook put there), `generation` 1, and
   `status` dropped when the CRD has the status subresource;
3. a client's `resourceVersion` survives all that and fails in storage
   (`etcd3/store.go`, `Create`: `resourceVersion should not be set on objects to be created`,
   not a Status error, so a 500 with that message); a dry run never gets there
   (`registry/generic/registry/dryrun.go`, `DryRunnableStorage.Create`).

UPDATE (`registry/generic/registry/store.go`, `Store.Update`; `registry/rest/update.go`,
`BeforeUpdate`; `PrepareForUpdate`): the mutating webhooks see the client's object as sent.
Then `check_resource_version`: none is 422 `must be specified for an update` (custom
resources do not allow unconditional updates), another than the stored one is 409 Conflict
with `OptimisticLockErrorMsg`. Then `before_update`: `generation` is the old one (plus 1 when
anything outside `metadata` changed), `status` is the old one (status subresource), an empty
`uid` becomes the old one, `creationTimestamp` is always the old one, a set
`deletionTimestamp` is kept, a `deletionGracePeriodSeconds` a client dropped is restored; what a
client still changed (`uid`, `deletionTimestamp`, `deletionGracePeriodSeconds`) is 422 `field
is immutable` (apimachinery `api/validation/objectmeta.go`, `ValidateObjectMetaAccessorUpdate`),
in the same 422 as the schema's errors (`rest.ValidateUpdate`).

Not modelled: `managedFields`, `generateName`, finalizers added to an object being deleted, and
the update loop's retry (etcd `GuaranteedUpdate` calling the webhooks again, with new uids,
when the stored object changed meanwhile: one client at a time writes here).
"""

from __future__ import annotations

import copy
import datetime
import uuid
from collections.abc import Mapping
from typing import Any, Final

from tests.e2e import schema
from tests.e2e.errors import Unsupported
from tests.e2e.schema import FieldError
from tests.e2e.status import Rejected, conflict, invalid, status

_WIPED_ON_CREATE: Final = (
    "creationTimestamp",
    "uid",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
# store.go: OptimisticLockErrorMsg.
OPTIMISTIC_LOCK: Final = (
    "the object has been modified; please apply your changes to the latest version and try again"
)
_IMMUTABLE: Final = "field is immutable"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    assert isinstance(metadata, dict)  # the decoder refused anything else with 400
    return metadata


def wipe_for_create(obj: dict[str, Any]) -> None:
    """`rest.WipeObjectMetaSystemFields`, before the mutating webhooks."""
    metadata = _meta(obj)
    for key in _WIPED_ON_CREATE:
        metadata.pop(key, None)


def fill_on_create(resource: schema.Resource, obj: dict[str, Any]) -> None:
    """`FillObjectMetaSystemFields` and the custom resource strategy's `PrepareForCreate`."""
    metadata = _meta(obj)
    metadata["creationTimestamp"] = now()
    metadata["uid"] = str(uuid.uuid4())
    if resource.status_subresource:
        obj.pop("status", None)
    metadata["generation"] = 1


def check_create_resource_version(obj: Mapping[str, Any]) -> None:
    """The storage refuses an object carrying a resourceVersion (a plain error: 500)."""
    if _resource_version(obj) != 0:
        message = "resourceVersion should not be set on objects to be created"
        raise Rejected(status(500, "", message))


def check_resource_version(
    resource: schema.Resource, obj: Mapping[str, Any], stored: Mapping[str, Any]
) -> None:
    """`Store.Update`'s precondition, after the mutating webhooks, before `BeforeUpdate`."""
    name = str((obj.get("metadata") or {}).get("name", ""))
    version = _resource_version(obj)
    if version == 0:
        # The "kind" here is the resource, as the Go code's TODO says.
        error = FieldError(
            "metadata.resourceVersion",
            "FieldValueInvalid",
            "Invalid value: 0x0: must be specified for an update",
        )
        raise Rejected(invalid(resource.plural, resource.group, name, [error]))
    if version != _resource_version(stored):
        raise Rejected(conflict(resource.plural, resource.group, name, OPTIMISTIC_LOCK))


def _resource_version(obj: Mapping[str, Any]) -> int:
    raw = (obj.get("metadata") or {}).get("resourceVersion") or ""
    if raw == "":
        return 0
    if not (isinstance(raw, str) and raw.isdigit()):
        raise Unsupported(f"resourceVersion {raw!r} (not one this stand-in issued)")
    return int(raw)


def before_update(
    resource: schema.Resource, obj: dict[str, Any], old: Mapping[str, Any]
) -> list[FieldError]:
    """`rest.BeforeUpdate` on `obj` (changed in place); the immutable-field errors it finds."""
    metadata, old_meta = _meta(obj), old.get("metadata") or {}
    metadata["generation"] = old_meta.get("generation", 0)
    if resource.status_subresource:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    if _non_metadata(obj) != _non_metadata(old):
        metadata["generation"] = old_meta.get("generation", 0) + 1
    if not metadata.get("uid"):
        metadata["uid"] = old_meta["uid"]
    if old_meta.get("creationTimestamp"):
        metadata["creationTimestamp"] = old_meta["creationTimestamp"]
    if old_meta.get("deletionTimestamp"):
        metadata["deletionTimestamp"] = old_meta["deletionTimestamp"]
    if (
        old_meta.get("deletionGracePeriodSeconds") is not None
        and metadata.get("deletionGracePeriodSeconds") is None
    ):
        metadata["deletionGracePeriodSeconds"] = old_meta["deletionGracePeriodSeconds"]
    errors = []
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        new_value, old_value = metadata.get(key), old_meta.get(key)
        if new_value != old_value:
            errors.append(
                FieldError(
                    f"metadata.{key}",
                    "FieldValueInvalid",
                    f"Invalid value: {_go_value(new_value)}: {_IMMUTABLE}",
                )
            )
    return errors


def _non_metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "metadata"}


def _go_value(value: object) -> str:
    """How a field error shows the value (quoted strings, `null` for nil)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
