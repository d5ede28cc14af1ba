"""What the API server does to a custom resource around admission, from its CRD's schema.

- `decode`: the request body is decoded before any webhook sees it. `metadata` must be shaped
  like ObjectMeta (annotations and labels maps of strings), else the request is refused with 400
  ("cannot be handled as a ..."); unknown fields and `null`s of non-nullable fields are pruned,
  then defaults are applied. The same decoding runs on every mutating webhook's patched object
  (a failure there is a 500).
- `validate`: after mutation, the object is checked against the schema (types, enum, pattern,
  lengths, item counts, required, list-type set) and its metadata (annotation and label keys,
  label values), each failure a field error of one 422 answer.

Not modelled: CEL rules (`x-kubernetes-validations`) and `format`; they need a CEL interpreter and
none of the scenarios depends on them. The webhook re-checks every rule it relies on anyway.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
import re2
import yaml

from app.k8s.names import is_label_value, is_qualified_name

Schema = dict[str, Any]

CRD_DIR: Final = Path(__file__).parent / "crds"

# ObjectMeta's JSON fields: anything else under `metadata` is dropped by the decoder.
_OBJECT_META_FIELDS: Final = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_STRING_MAPS: Final = ("annotations", "labels")

_TOTAL_ANNOTATION_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class Resource:
    """One served version of a custom resource."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Schema
    # `subresources.status`: a write to the object itself cannot set `status`.
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    reason: str  # the cause's `reason`: FieldValueInvalid, FieldValueRequired, ...
    detail: str


class DecodeError(Exception):
    """The body cannot be decoded into the kind (the API server's 400, or 500 after a patch)."""


def load_crd(path: Path) -> list[Resource]:
    """Every served version of the CRD in `path`."""
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = crd["spec"]
    return [
        Resource(
            group=spec["group"],
            version=version["name"],
            kind=spec["names"]["kind"],
            plural=spec["names"]["plural"],
            namespaced=spec["scope"] == "Namespaced",
            schema=version["schema"]["openAPIV3Schema"],
            status_subresource="status" in (version.get("subresources") or {}),
        )
        for version in spec["versions"]
        if version.get("served", True)
    ]


def kargo_resources() -> list[Resource]:
    return [r for path in sorted(CRD_DIR.glob("*.yaml")) for r in load_crd(path)]


def decode(resource: Resource, obj: Any) -> dict[str, Any]:
    """A copy of `obj` as the API server's decoder leaves it: coerced, pruned and defaulted."""
    if not isinstance(obj, dict):
        raise DecodeError(f"{_cannot_handle(resource)}: the object must be a JSON object")
    out = copy.deepcopy(obj)
    metadata = out.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise DecodeError(f"{_cannot_handle(resource)}: metadata must be an object")
        for key in list(metadata):
            if key not in _OBJECT_META_FIELDS:
                del metadata[key]
        for key in _STRING_MAPS:
            value = metadata.get(key)
            if value is None:
                continue
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise DecodeError(
                    f"{_cannot_handle(resource)}: json: cannot unmarshal "
                    f"{_json_type(value)} into Go struct field ObjectMeta.metadata.{key} "
                    "of type map[string]string"
                )
    for key in list(out):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        sub = resource.schema.get("properties", {}).get(key)
        if sub is None or (out[key] is None and not sub.get("nullable", False)):
            del out[key]
        else:
            out[key] = _prune_and_default(out[key], sub)
    _default_properties(out, resource.schema, skip=("apiVersion", "kind", "metadata"))
    return out


def _cannot_handle(resource: Resource) -> str:
    return f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}'


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _prune_and_default(value: Any, schema: Schema) -> Any:
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        additional = schema.get("additionalProperties")
        for key in list(value):
            sub = properties.get(key) if properties is not None else None
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is None:
                if not schema.get("x-kubernetes-preserve-unknown-fields"):
                    del value[key]
                continue
            if value[key] is None and not sub.get("nullable", False):
                del value[key]
                continue
            value[key] = _prune_and_default(value[key], sub)
        _default_properties(value, schema, skip=())
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune_and_default(item, schema["items"]) for item in value]
    return value


def _default_properties(value: dict[str, Any], schema: Schema, *, skip: tuple[str, ...]) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in skip and key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])


def validate(resource: Resource, obj: dict[str, Any]) -> list[FieldError]:
    """Schema and metadata errors of a decoded object, in the API server's field-path form."""
    errors = list(_validate_metadata(obj.get("metadata") or {}))
    for key, sub in resource.schema.get("properties", {}).items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in obj:
            errors.extend(_validate(obj[key], sub, key))
        elif key in resource.schema.get("required", ()):
            errors.append(FieldError(key, "FieldValueRequired", "Required value"))
    return errors


def _validate_metadata(metadata: dict[str, Any]) -> Iterator[FieldError]:
    annotations = metadata.get("annotations") or {}
    for key in annotations:
        yield from _qualified_name(f"metadata.annotations[{key}]", key)
    size = sum(len(k) + len(v) for k, v in annotations.items())
    if size > _TOTAL_ANNOTATION_BYTES:
        yield FieldError(
            "metadata.annotations",
            "FieldValueTooLong",
            f"Too long: may not be more than {_TOTAL_ANNOTATION_BYTES} bytes",
        )
    for key, value in (metadata.get("labels") or {}).items():
        yield from _qualified_name(f"metadata.labels[{key}]", key)
        for message in is_label_value(value):
            yield FieldError(f"metadata.labels[{key}]", "FieldValueInvalid", message)


def _qualified_name(path: str, key: str) -> Iterator[FieldError]:
    """apimachinery's `IsQualifiedName`, as the webhook checks label keys (`app.k8s.names`)."""
    for message in is_qualified_name(key):
        yield FieldError(path, "FieldValueInvalid", message)


_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _show(value: object) -> str:
    return orjson.dumps(value).decode() if isinstance(value, str) else repr(value)


def _validate(value: Any, schema: Schema, path: str) -> Iterator[FieldError]:
    expected = schema.get("type")
    if value is None:
        if not schema.get("nullable", False) and expected is not None:
            yield FieldError(
                path, "FieldValueTypeInvalid", f"Invalid value: null: must be {expected}"
            )
        return
    if expected is not None:
        types = _TYPES[expected]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            yield FieldError(
                path,
                "FieldValueTypeInvalid",
                f"Invalid value: {_show(value)}: {path} in body must be of type {expected}",
            )
            return
    if "enum" in schema and value not in schema["enum"]:
        yield FieldError(path, "FieldValueNotSupported", f"Unsupported value: {_show(value)}")
    if isinstance(value, str):
        yield from _validate_string(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield FieldError(path, "FieldValueInvalid", f"should be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            yield FieldError(path, "FieldValueInvalid", f"should be <= {schema['maximum']}")
    elif isinstance(value, list):
        yield from _validate_array(value, schema, path)
    elif isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                yield FieldError(f"{path}.{key}", "FieldValueRequired", "Required value")
        properties = schema.get("properties", {})
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(additional, dict):
                sub = additional
            if sub is not None:
                yield from _validate(item, sub, f"{path}.{key}")


def _validate_string(value: str, schema: Schema, path: str) -> Iterator[FieldError]:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        detail = f"may not be more than {schema['maxLength']} bytes"
        yield FieldError(path, "FieldValueTooLong", f"Too long: {detail}")
    if "minLength" in schema and len(value) < schema["minLength"]:
        detail = f"{path} in body should be at least {schema['minLength']} chars long"
        yield FieldError(path, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}")
    pattern = schema.get("pattern")
    # OpenAPI patterns are unanchored RE2 (Go's regexp); `re2.search` has the same semantics.
    if pattern is not None and re2.search(pattern, value) is None:
        detail = f"{path} in body should match '{pattern}'"
        yield FieldError(path, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}")


def _validate_array(value: list[Any], schema: Schema, path: str) -> Iterator[FieldError]:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        detail = f"must have at most {schema['maxItems']} items"
        yield FieldError(path, "FieldValueTooMany", f"Too many: {len(value)}: {detail}")
    if "minItems" in schema and len(value) < schema["minItems"]:
        detail = f"{path} in body should have at least {schema['minItems']} items"
        yield FieldError(path, "FieldValueInvalid", f"Invalid value: {len(value)}: {detail}")
    if schema.get("x-kubernetes-list-type") == "set":
        seen: set[bytes] = set()
        for i, item in enumerate(value):
            encoded = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
            if encoded in seen:
                yield FieldError(f"{path}[{i}]", "FieldValueDuplicate", "Duplicate value")
            seen.add(encoded)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            yield from _validate(item, items, f"{path}[{i}]")
