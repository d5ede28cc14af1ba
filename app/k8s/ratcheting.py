"""Validation ratcheting on UPDATE: errors an object already had do not block changing it.

Kubernetes does this for custom resources (KEP-4008, `CRDValidationRatcheting`, on by default
since 1.30) and Kyverno with `allowExistingViolations`: a rule added after an object was stored,
or enforced by a webhook that was down under `failurePolicy: Ignore`, must not make the object
impossible to update. Otherwise every later write is denied: adding a label, a controller's
refresh annotation, and the finalizer removal that deletion waits on, so a namespace never
finishes terminating.

An error of the new object is *kept* (not enforced) when both hold:

- the old object had the same error: same type, same field path, same bad value, same detail;
- the value at that field is unchanged between the old and the new object (type-strict: `1`,
  `1.0` and `true` differ, as Go's decoded JSON does).

The first condition keeps contextual errors new (a duplicate name created by renaming another
entry is reported at the unchanged entry, with a detail naming the other); the second makes
changing a bad value into another bad value an error again, even where the error quotes no value
(`Required`, `Forbidden`) or only a placeholder. Fields are matched by path as KEP-4008 matches
atomic lists: an entry moved to another index is a new value there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from app.k8s.field import ErrorType, FieldError, Segment


class _Missing:
    """The value at a path that does not exist: unlike `null`, which is a value."""

    __slots__ = ()


MISSING: Final = _Missing()

# (type, path, detail): the part of an error's identity that is hashable as it is. The path as
# its segments, not as rendered: a map key holding "]" or "." could render like another path.
_ErrorKey: TypeAlias = tuple[ErrorType, tuple[Segment, ...], str]


@dataclass(frozen=True, slots=True)
class Ratcheted:
    """A new object's errors split in two: those that deny, and those the old object had."""

    enforced: list[FieldError]
    kept: list[FieldError]


def ratchet(
    errors: Sequence[FieldError],
    old_errors: Sequence[FieldError],
    *,
    obj: object,
    old_obj: object,
) -> Ratcheted:
    """Split `errors` (of `obj`) into enforced and kept, against `old_errors` (of `old_obj`)."""
    enforced: list[FieldError] = []
    kept: list[FieldError] = []
    if not old_errors:
        enforced.extend(errors)
        return Ratcheted(enforced, kept)

    old_values: dict[_ErrorKey, _BadValues] = {}
    for old in old_errors:
        key = _key(old)
        values = old_values.get(key)
        if values is None:
            values = old_values[key] = _BadValues()
        values.add(old.bad_value)
    # Whether the value at a path is unchanged, per path: many errors share one path (a map's
    # entries are reported at the map), and comparing a large map once per entry is quadratic.
    unchanged: dict[tuple[Segment, ...], bool] = {}

    for error in errors:
        key = _key(error)
        values = old_values.get(key)
        if values is not None and values.contains(error.bad_value):
            segments = key[1]
            same = unchanged.get(segments)
            if same is None:
                same = same_json(value_at(old_obj, segments), value_at(obj, segments))
                unchanged[segments] = same
            if same:
                kept.append(error)
                continue
        enforced.append(error)
    return Ratcheted(enforced, kept)


def _key(error: FieldError) -> _ErrorKey:
    return (error.type, error.path.segments, error.detail)


class _BadValues:
    """The bad values the old object's errors of one key quoted, for type-strict lookups."""

    __slots__ = ("others", "scalars")

    def __init__(self) -> None:
        # Scalars tagged with their type: `True`, `1` and `1.0` are equal in Python, not in JSON.
        self.scalars: set[tuple[str, object]] = set()
        self.others: list[object] = []

    def add(self, value: object) -> None:
        if _is_scalar(value):
            self.scalars.add((type(value).__name__, value))
        else:
            self.others.append(value)

    def contains(self, value: object) -> bool:
        if _is_scalar(value):
            return (type(value).__name__, value) in self.scalars
        return any(same_json(other, value) for other in self.others)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def value_at(obj: object, segments: Sequence[Segment]) -> object:
    """The value at a field path in a decoded object, or `MISSING` when the path leads nowhere."""
    node = obj
    for segment in segments:
        if segment.kind == "index":
            if not isinstance(node, list) or not 0 <= segment.position < len(node):
                return MISSING
            node = node[segment.position]
        else:
            if not isinstance(node, dict) or segment.name not in node:
                return MISSING
            node = node[segment.name]
    return node


def same_json(a: object, b: object) -> bool:
    """Deep equality of decoded JSON values, type-strict, without recursion.

    Iterative: a decoded value may nest up to orjson's 1024 levels, deeper than Python's
    recursion limit.
    """
    pending: list[tuple[object, object]] = [(a, b)]
    while pending:
        x, y = pending.pop()
        if x is y:
            continue
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            assert isinstance(y, dict)
            if len(x) != len(y):
                return False
            for k, v in x.items():
                if k not in y:
                    return False
                pending.append((v, y[k]))
        elif isinstance(x, list):
            assert isinstance(y, list)
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif x != y:
            return False
    return True
