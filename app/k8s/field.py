"""Field paths and field errors, as apimachinery's `pkg/util/validation/field` has them.

A validator takes the path of the value it checks and adds `FieldError`s to an `ErrorList`,
the one container of errors, bounded as it is built; paths are
built while descending (`path.child("spec").child("promotionPolicies").index(0)`), so an error
always names the exact field a user has to change. A path is kept as its segments, not as the
rendered text: a tool that needs to find the field again (the `check` command pointing at a line
of YAML) walks the segments, and never parses `spec.x[0]` back out of a string.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias, final

import orjson

# A bad value quoted in a message is cut at this many characters: a message must stay readable
# and must not echo a megabyte of user input into logs and kubectl output.
MAX_QUOTED_VALUE_CHARS = 256
# A detail may quote user input too (Go's regexp errors quote the whole pattern, a name rule
# quotes the name), and a path may hold a user's map key: each is cut at this many characters,
# so one error renders to at most about 1.3k characters whatever it quotes.
MAX_DETAIL_CHARS = 512
MAX_FIELD_CHARS = 512
# An answer reports at most this many errors; `ErrorList` keeps no more and counts the rest.
# A body of 3-byte policies (`{},`) holds millions of them: kept, they took hundreds of MiB
# and a 700 MB answer. A hundred is more than anyone fixes in one pass.
MAX_REPORTED_ERRORS = 100

# Any decoded JSON value. A module-level name: mypyc resolves class-body annotations in the
# module's namespace, where the builtin `object` is not found.
JsonValue: TypeAlias = object

SegmentKind: TypeAlias = Literal["child", "index", "key"]


class ErrorType(enum.Enum):
    """apimachinery's `field.ErrorType`: the cause `reason` and the text shown before the value."""

    INVALID = ("FieldValueInvalid", "Invalid value")
    REQUIRED = ("FieldValueRequired", "Required value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    TOO_MANY = ("FieldValueTooMany", "Too many")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")
    FORBIDDEN = ("FieldValueForbidden", "Forbidden")

    @property
    def reason(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]


# apimachinery omits the bad value for these types (`ErrorBody`).
_VALUELESS = frozenset({ErrorType.REQUIRED, ErrorType.FORBIDDEN})


class Segment(NamedTuple):
    """One step of a path: a field name (`.name`), a list index (`[0]`) or a map key (`[k]`)."""

    kind: SegmentKind
    name: str = ""
    position: int = 0


@final
class FieldPath:
    """An immutable path to a field: `spec.promotionPolicies[0].stageSelector.name`.

    Each step is one small object pointing at its parent, so descending costs one allocation
    (validation builds a path for every value it visits, on every request); `segments` lists
    the steps from the root when something needs to walk them. Never changed once built; a
    plain class rather than a frozen dataclass because, compiled, it is built three times as fast.
    """

    __slots__ = ("kind", "name", "parent", "position")

    def __init__(
        self,
        parent: FieldPath | None = None,
        kind: SegmentKind | None = None,  # None only for the empty path
        name: str = "",
        position: int = 0,
    ) -> None:
        self.parent = parent
        self.kind = kind
        self.name = name
        self.position = position

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldPath) and self.segments == other.segments

    def __hash__(self) -> int:
        return hash(self.segments)

    def __repr__(self) -> str:
        return f"FieldPath({str(self)!r})"

    @classmethod
    def root(cls, name: str) -> FieldPath:
        return cls(None, "child", name)

    def child(self, name: str) -> FieldPath:
        return FieldPath(self, "child", name)

    def index(self, i: int) -> FieldPath:
        return FieldPath(self, "index", "", i)

    def key(self, k: str) -> FieldPath:
        return FieldPath(self, "key", k)

    @property
    def segments(self) -> tuple[Segment, ...]:
        steps: list[Segment] = []
        node: FieldPath | None = self
        while node is not None:
            if node.kind is not None:
                steps.append(Segment(node.kind, node.name, node.position))
            node = node.parent
        steps.reverse()
        return tuple(steps)

    def __str__(self) -> str:
        # Walked from the leaf up, without building segments: warnings render a path per policy.
        parts: list[str] = []
        node: FieldPath | None = self
        while node is not None and node.kind is not None:
            parent = node.parent
            if node.kind == "index":
                parts.append(f"[{node.position}]")
            elif node.kind == "key":
                parts.append(f"[{node.name}]")
            elif parent is not None and parent.kind is not None:
                parts.append("." + node.name)
            else:
                parts.append(node.name)
            node = parent
        parts.reverse()
        return "".join(parts)


def go_quote(text: str) -> str:
    """Quote a string as Go's `%q` does, so messages read exactly like the API server's."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked with "..." (so at most limit + 3)."""
    return text if len(text) <= limit else text[:limit] + "..."


def render_value(value: object) -> str:
    """Render a bad value as apimachinery does: strings quoted, scalars bare, the rest as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(clip(value, MAX_QUOTED_VALUE_CHARS))
    if isinstance(value, int | float):
        return repr(value)
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        # Nested too deeply for the encoder: say what it is rather than fail.
        text = f"<{type(value).__name__}>"
    return clip(text, MAX_QUOTED_VALUE_CHARS)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field; `message` is the cause message, `__str__` the full line."""

    type: ErrorType
    path: FieldPath
    bad_value: JsonValue
    detail: str

    @property
    def field(self) -> str:
        """The path as apimachinery renders it (a cause's `field`), cut if a key made it long."""
        return clip(str(self.path), MAX_FIELD_CHARS)

    @property
    def message(self) -> str:
        """apimachinery's `ErrorBody`: `Invalid value: "x": detail`, the value and detail cut."""
        if self.type in _VALUELESS:
            body = self.type.label
        else:
            body = f"{self.type.label}: {render_value(self.bad_value)}"
        return f"{body}: {clip(self.detail, MAX_DETAIL_CHARS)}" if self.detail else body

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def invalid(path: FieldPath, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, path, value, detail)


def required(path: FieldPath, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, path, None, detail)


def not_supported(path: FieldPath, value: object, supported: Iterable[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported)
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, detail)


def duplicate(path: FieldPath, value: object) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, value, "")


def too_many(path: FieldPath, actual: int, maximum: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, path, actual, f"must have at most {maximum} items")


def type_invalid(path: FieldPath, value: object, expected: str) -> FieldError:
    return FieldError(ErrorType.TYPE_INVALID, path, value, f"must be of type {expected}")


def forbidden(path: FieldPath, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, path, None, detail)


@final
class ErrorList:
    """Field errors as a validation collects them: the first `limit` kept, the rest counted.

    Validators append every error they find (collecting all before answering), but memory and
    the answer stay bounded by `limit` whatever the object holds; `omitted` says how many
    more there were, and the answer says so (`app.k8s.status`). Iterating yields the kept ones.
    `observer`, when given, sees every error, kept or not: ratcheting compares an UPDATE's
    errors in full (`app.k8s.ratcheting`) without keeping them all.
    """

    __slots__ = ("items", "limit", "observer", "omitted")

    def __init__(
        self,
        limit: int = MAX_REPORTED_ERRORS,
        observer: Callable[[FieldError], None] | None = None,
    ) -> None:
        self.items: list[FieldError] = []
        self.limit = limit
        self.omitted = 0
        self.observer = observer

    @classmethod
    def of(cls, *errors: FieldError, limit: int = MAX_REPORTED_ERRORS) -> ErrorList:
        """A list of these errors, bounded like any other (a rule that finds one or two)."""
        found = cls(limit)
        for error in errors:
            found.append(error)
        return found

    def append(self, error: FieldError) -> None:
        if self.observer is not None:
            self.observer(error)
        if len(self.items) < self.limit:
            self.items.append(error)
        else:
            self.omitted += 1

    def extend(self, errors: Iterable[FieldError]) -> None:
        for error in errors:
            self.append(error)

    @property
    def total(self) -> int:
        """Every error found, kept or not."""
        return len(self.items) + self.omitted

    def __iter__(self) -> Iterator[FieldError]:
        return iter(self.items)

    def __len__(self) -> int:
        """The errors kept (at most `limit`); `total` counts the others too."""
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items) or self.omitted > 0
