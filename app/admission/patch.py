"""JSON Patch (RFC 6902) operations and JSON Pointer (RFC 6901) escaping.

The API server rejects a patch that fails to apply even under `failurePolicy: Ignore`, so the
builders here only produce operations whose target is known to exist (or whose parent is).
"""

from __future__ import annotations

from typing import Literal, TypedDict

from app.k8s.field import JsonValue


class PatchOp(TypedDict, total=False):
    op: Literal["add", "remove", "replace"]
    path: str
    value: JsonValue


def escape_pointer_token(token: str) -> str:
    """RFC 6901: `~` becomes `~0` first, then `/` becomes `~1`."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str) -> str:
    return "".join("/" + escape_pointer_token(t) for t in tokens)


def add(path: str, value: object) -> PatchOp:
    return {"op": "add", "path": path, "value": value}


def remove(path: str) -> PatchOp:
    return {"op": "remove", "path": path}


def replace(path: str, value: object) -> PatchOp:
    return {"op": "replace", "path": path, "value": value}
