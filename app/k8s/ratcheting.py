"""Validation ratcheting on UPDATE: errors an object already had do not block changing it.

Kubernetes does this for custom resources (KEP-4008, `CRDValidationRatcheting`, on by default
since 1.30) and Kyverno with `allowExistingViolations`: a rule added after an object was stored,
or enforced by a webhook that was down under `failurePolicy: Ignore`, must not make the object
impossible to update. Otherwise every later write is denied: adding a label, a controller's
refresh annotation, and the finalizer removal that deletion waits on, so a namespace never
finishes terminating.

An error of the new object is *kept* (not enforced) when both hold:

- the old object had the same error: same type, same field path, same bad value, same detail;
- the field the error is about is unchanged between the old and the new object (type-strict:
  `1`, `1.0` and `true` differ, as Go's decoded JSON does).

The field an error is about is its own path, except for errors of presence (`Required`,
`Forbidden`): whether a field must or must not be there is decided by the object holding it
(a selector requirement's `values` by its `operator`), so that object is compared, as KEP-4008
checks `required` at the parent's schema node. Changing `operator` from `In` to `NotIn` while
`values` stays missing is then a change of the field that held the error, and enforced.

The first condition keeps contextual errors new (a duplicate name created by renaming another
entry is reported at the unchanged entry, with a detail naming the other); the second makes
changing a bad value into another bad value an error again, even where the error quotes no value
or only a placeholder. Fields are matched by path as KEP-4008 matches atomic lists: an entry
moved to another index is a new value there.

The old object's errors are compared in full, never cut at the answer's limit of causes: each
is remembered as a 16-byte keyed digest of its identity (`OldErrors`), so an object with
hundreds of thousands of errors costs a few megabytes, not its errors' objects. The key is
drawn per process: no one can craft an error whose digest matches another's.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, final

import orjson

from app.k8s.cooperative import pause
from app.k8s.field import MAX_REPORTED_ERRORS, ErrorList, ErrorType, FieldError, Segment


class _Missing:
    """The value at a path that does not exist: unlike `null`, which is a value."""

    __slots__ = ()


MISSING: Final = _Missing()

_DIGEST_KEY: Final = os.urandom(16)
# Errors of presence: the object holding the field decides them (see the module's docstring).
_DECIDED_BY_PARENT: Final = frozenset({ErrorType.REQUIRED, ErrorType.FORBIDDEN})
# Comparisons of one field's old and new value remembered at once. Errors come out in the
# order of the walk, so those of one field (a map's entries are reported at the map) follow
# each other, interleaved only with those of its few ancestors.
_REMEMBERED_COMPARISONS: Final = 64


@dataclass(frozen=True, slots=True)
class Ratcheted:
    """A new object's errors split in two: those that deny, and those the old object had."""

    enforced: ErrorList
    kept: ErrorList


@final
class OldErrors:
    """Every error of the old object, each as a keyed digest of its identity."""

    __slots__ = ("digests",)

    def __init__(self) -> None:
        self.digests: set[bytes] = set()

    def add(self, error: FieldError) -> None:
        """An `ErrorList` observer: remembers every error, past any limit."""
        pause()
        self.digests.add(_digest(error))

    def had(self, error: FieldError) -> bool:
        return _digest(error) in self.digests

    def __len__(self) -> int:
        return len(self.digests)


@final
class Ratchet:
    """Sorts a new object's errors, one at a time, into `enforced` and `kept`.

    `sort` is an `ErrorList` observer, so every error of the new object is sorted, not only
    those within the answer's limit; each side keeps its first `limit` and counts the rest.
    """

    __slots__ = ("_comparisons", "_obj", "_old", "_old_obj", "enforced", "kept")

    def __init__(
        self, old: OldErrors, *, obj: object, old_obj: object, limit: int = MAX_REPORTED_ERRORS
    ) -> None:
        self._old = old
        self._obj = obj
        self._old_obj = old_obj
        self._comparisons: dict[tuple[Segment, ...], bool] = {}
        self.enforced = ErrorList(limit)
        self.kept = ErrorList(limit)

    def sort(self, error: FieldError) -> None:
        pause()
        if self._old.digests and self._old.had(error) and self._unchanged(compared_at(error)):
            self.kept.append(error)
        else:
            self.enforced.append(error)

    def _unchanged(self, segments: tuple[Segment, ...]) -> bool:
        same = self._comparisons.get(segments)
        if same is None:
            if len(self._comparisons) >= _REMEMBERED_COMPARISONS:
                self._comparisons.clear()
            same = same_json(value_at(self._old_obj, segments), value_at(self._obj, segments))
            self._comparisons[segments] = same
        return same


def ratchet(
    errors: ErrorList,
    old_errors: ErrorList,
    *,
    obj: object,
    old_obj: object,
) -> Ratcheted:
    """Split `errors` (of `obj`) into enforced and kept, against `old_errors` (of `old_obj`)."""
    old = OldErrors()
    for error in old_errors:
        old.add(error)
    split = Ratchet(old, obj=obj, old_obj=old_obj, limit=errors.limit)
    for error in errors:
        split.sort(error)
    return Ratcheted(split.enforced, split.kept)


def compared_at(error: FieldError) -> tuple[Segment, ...]:
    """The path of the field whose value decides whether `error` is new: see the docstring."""
    segments = error.path.segments
    if error.type in _DECIDED_BY_PARENT and segments:
        return segments[:-1]
    return segments


def _digest(error: FieldError) -> bytes:
    head = orjson.dumps(
        [error.type.name, [[s.kind, s.name, s.position] for s in error.path.segments], error.detail]
    )
    try:
        value = orjson.dumps(error.bad_value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # Nested deeper than the encoder goes, or an integer wider than 64 bits: such values
        # are told apart by the comparison of the unchanged field alone.
        value = b"\x00unencodable"
    return hashlib.blake2b(head + b"\x00" + value, digest_size=16, key=_DIGEST_KEY).digest()


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
