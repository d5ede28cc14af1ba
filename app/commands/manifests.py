"""Reading manifests as Kubernetes reads them: sigs.k8s.io/yaml semantics, and hostile input.

Kubernetes reads YAML with go-yaml v2 into untyped JSON; `documents` decodes every document of
a file the same way (JSON for *.json), keeping each YAML document's node tree so that a finding
can name its line (`app.commands.locations`).

Hostile input. YAML aliases share one object, so loading a "billion laughs" document is cheap,
but anything that walks or renders it afterwards pays for every expansion; a recursive alias
never ends. A document whose aliases expand it beyond `MAX_EXPANDED_VALUES`, or that contains
itself, is refused as unreadable input. libyaml caps nesting at 1,000 levels, orjson at 1,024,
and `MAX_INPUT_BYTES` bounds what is read at all. Only the safe loader is used: no tags that
build Python objects.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator
from typing import Any, BinaryIO, Final

import orjson
import yaml

from app.commands.locations import at

STDIN: Final = "-"

# Kubernetes stores an object of at most 1.5 MiB (etcd's limit), a few hundred thousand values at
# most. Aliases may not make a document bigger than this when expanded: past it, the document can
# only be an attack (or could never be applied).
MAX_EXPANDED_VALUES: Final = 1_000_000
# One file or stdin: far beyond any repository of manifests, small enough to fail fast on a
# wrong path (a disk image, /dev/zero).
MAX_INPUT_BYTES: Final = 64 * 1024 * 1024

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _ManifestLoader(_SafeLoader):
    """The safe loader (libyaml's when available: several times faster), decoding like the API.

    Kubernetes reads YAML with go-yaml v2 into untyped JSON (sigs.k8s.io/yaml), which keeps
    timestamp-like and `=` plain scalars as strings (`stage: 2024-01-01` is a string there, not
    a date), turns `!!binary` into the string of its bytes, and writes mapping keys that are
    numbers or booleans as strings (`1: a` is `{"1": "a"}`); a null key is an error. The result
    is always a JSON value, as the policies expect.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        return {_json_key(key, node): value for key, value in mapping.items()}


def _json_key(key: object, node: yaml.MappingNode) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it into JSON."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        return repr(key)
    raise yaml.constructor.ConstructorError(
        None, None, f"unsupported mapping key {key!r}: keys must be strings", node.start_mark
    )


def _binary_string(loader: _ManifestLoader, node: yaml.ScalarNode) -> str:
    data = yaml.constructor.SafeConstructor.construct_yaml_binary(loader, node)
    return data.decode("utf-8", "replace")


def _plain_string(loader: _ManifestLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _plain_string)
_ManifestLoader.add_constructor("tag:yaml.org,2002:value", _plain_string)
_ManifestLoader.add_constructor("tag:yaml.org,2002:binary", _binary_string)


class Unreadable(Exception):
    """An input or a document in it cannot be used; becomes an `InputError`."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


def read_input(path: str, stdin: BinaryIO) -> bytes:
    try:
        if path == STDIN:
            data = stdin.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise Unreadable(f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB; not read")
    return data


Document = tuple[object, yaml.Node | None]  # the decoded value and, for YAML, its node tree


def documents(path: str, data: bytes) -> Iterator[Document]:
    """Decode every document: JSON for *.json (or input that starts like JSON), else YAML."""
    head = data.lstrip()[:1]
    if path.lower().endswith(".json"):
        yield _json_document(data), None
        return
    if head in (b"{", b"["):
        try:
            yield orjson.loads(data), None
        except orjson.JSONDecodeError:
            pass  # flow-style YAML, or broken: YAML says which, with its line
        else:
            return
    yield from _yaml_documents(data)


def _json_document(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Unreadable(f"JSON error: {exc.msg}", exc.lineno, exc.colno) from None


def _yaml_documents(data: bytes) -> Iterator[Document]:
    # Composing first keeps each document's nodes, so a problem can name its line.
    loader = _ManifestLoader(data)
    check_aliases = b"&" in data  # no anchor, no alias: nothing can expand
    try:
        while loader.check_node():
            node = loader.get_node()
            value = loader.construct_document(node) if node is not None else None
            if check_aliases:
                _check_expansion(value, node)
            yield value, node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark is not mark:
                context += f" at line {exc.context_mark.line + 1}"
            problem = f"{problem} ({context})"
        if mark is None:
            raise Unreadable(f"YAML error: {problem}") from None
        raise Unreadable(f"YAML error: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as exc:
        raise Unreadable(f"YAML error: {str(exc).splitlines()[0]}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # A scalar the safe constructor cannot build (e.g. a bad !!binary), or nesting deeper
        # than Python's stack with the pure-Python loader.
        raise Unreadable(f"YAML error: {type(exc).__name__}: {exc}") from None
    finally:
        loader.dispose()


def _check_expansion(value: object, node: yaml.Node | None) -> None:
    """Refuse a document that contains itself, or that aliases expand beyond the limit.

    The size is computed once per distinct container (memoised by identity), so measuring a
    billion laughs costs as little as loading it.
    """
    if not isinstance(value, dict | list):
        return
    sizes: dict[int, int] = {}
    open_containers: set[int] = set()  # the containers being measured: ancestors of the current
    stack: list[tuple[dict[object, object] | list[object], bool]] = [(value, False)]
    shared = False
    while stack:
        container, finished = stack.pop()
        ident = id(container)
        children = container.values() if isinstance(container, dict) else container
        if finished:
            open_containers.discard(ident)
            sizes[ident] = 1 + sum(
                sizes[id(c)] if isinstance(c, dict | list) else 1 for c in children
            )
            continue
        if ident in sizes:
            shared = True
            continue
        open_containers.add(ident)
        stack.append((container, True))
        for child in children:
            if isinstance(child, dict | list):
                if id(child) in open_containers:
                    raise Unreadable("YAML document contains itself (a recursive alias)", *at(node))
                stack.append((child, False))
    if shared and sizes[id(value)] > MAX_EXPANDED_VALUES:
        raise Unreadable(
            f"YAML aliases expand this document beyond {MAX_EXPANDED_VALUES:,} values "
            "(an alias bomb?); refused",
            *at(node),
        )
