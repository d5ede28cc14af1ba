"""Reading manifests as Kubernetes reads them: sigs.k8s.io/yaml semantics, and hostile input.

Kubernetes reads YAML with go-yaml v2 into untyped JSON (sigs.k8s.io/yaml); `documents` decodes
every document of a file the same way (JSON for *.json): PyYAML composes the nodes,
`app.commands.yaml_json` builds the JSON value from them with go-yaml v2's rules. (One fact
PyYAML hides from the composed nodes is recovered from the text: whether a scalar carries the
non-specific tag `!`, which go-yaml v2 keeps and does not resolve.) Each YAML
document keeps its node tree, so a finding can name its line (`app.commands.locations`).

Hostile input. YAML aliases share one node, so composing a "billion laughs" document is cheap,
but anything that walks or renders it afterwards pays for every expansion; a recursive alias
never ends. The guard measures the node tree before any value is built, so it sees every node
whatever its tag. A document whose aliases expand it beyond `MAX_EXPANDED_VALUES` or
`MAX_EXPANDED_CHARACTERS`, or that contains itself, is refused as unreadable input. libyaml caps
nesting at 1,000 levels, orjson at 1,024, and `MAX_INPUT_BYTES` bounds what is read at all. No
tag builds a Python object: PyYAML's constructors are not used at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

import orjson
import yaml

from app.commands.locations import at
from app.commands.yaml_json import DocumentError, json_value
from app.commands.yaml_scalars import (
    MAPPING_TAG,
    NON_SPECIFIC_TAG,
    PLAIN_TAG,
    SEQUENCE_TAG,
    STR_TAG,
)

STDIN: Final = "-"

# Kubernetes stores an object of at most 1.5 MiB (etcd's limit), a few hundred thousand values at
# most. Aliases may not make a document bigger than this when expanded: past it, the document can
# only be an attack (or could never be applied).
MAX_EXPANDED_VALUES: Final = 1_000_000
# The same bound in text (over ten times what etcd stores): one long string aliased many times is
# a bomb of few values.
MAX_EXPANDED_CHARACTERS: Final = 16 * 1024 * 1024
# One file or stdin: far beyond any repository of manifests, small enough to fail fast on a
# wrong path (a disk image, /dev/zero).
MAX_INPUT_BYTES: Final = 64 * 1024 * 1024

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _ManifestLoader(_SafeLoader):
    """The safe loader's parser and composer (libyaml's when available: several times faster);
    its constructors are never called. Values are built as Kubernetes builds them
    (`app.commands.yaml_json`), so PyYAML's YAML 1.1 resolver is left out too: an untagged
    plain scalar keeps a tag of its own, and go-yaml v2's rules resolve it."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return PLAIN_TAG if implicit[0] else STR_TAG  # a quoted scalar is a string
        if kind is yaml.SequenceNode:
            return SEQUENCE_TAG
        return MAPPING_TAG


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
    # Composing keeps each document's nodes, so a problem can name its line.
    loader = _ManifestLoader(data)
    check_aliases = b"&" in data  # no anchor, no alias: nothing can expand or recur
    lines = _text_lines(data) if b"!" in data else None  # no `!`, no non-specific tag
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                yield None, None
                continue
            if check_aliases:
                _check_expansion(node)
            if lines is not None:
                _mark_non_specific_tags(node, lines)
            try:
                value = json_value(node)
            except DocumentError as exc:
                raise Unreadable(f"YAML error: {exc.message}", *at(exc.node)) from None
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
    except RecursionError:
        # Nesting deeper than Python's stack, with the pure-Python composer.
        raise Unreadable("YAML error: nested too deeply") from None
    finally:
        loader.dispose()


def _text_lines(data: bytes) -> list[str]:
    """The input's lines, to read a node's properties at its mark (columns count characters)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", "replace")
    else:
        text = data.decode("utf-8-sig", "replace")
    return text.splitlines()


def _mark_non_specific_tags(root: yaml.Node, lines: list[str]) -> None:
    """Give `NON_SPECIFIC_TAG` back to scalars written with the tag `!` (`! true`).

    libyaml reports `!` as "plain implicit", so PyYAML resolves such a scalar as if it had no
    tag (`true` a boolean). go-yaml v2 keeps the tag, which `resolve` does not resolve, so the
    value stays text. The composed node no longer says which it was; its start mark, at its
    first property (`&anchor` or `!tag`), does.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            start, end = node.start_mark, node.end_mark
            if node.tag == PLAIN_TAG and start and _starts_with_bang(lines, start, end):
                node.tag = NON_SPECIFIC_TAG
        else:
            stack.extend(_children(node))


def _starts_with_bang(lines: list[str], start: yaml.Mark, end: yaml.Mark | None) -> bool:
    """Whether the node's properties, read between its marks (over line breaks and comments, as
    YAML allows between them), include the tag `!` alone."""
    last = start.line if end is None else end.line
    column = start.column
    for number in range(start.line, min(last, len(lines) - 1) + 1):
        text = lines[number]
        if number == last and end is not None:
            text = text[: end.column]
        for token in text[column:].split():
            if token.startswith("#"):
                break  # a comment: the properties go on, if at all, on the next line
            if token == NON_SPECIFIC_TAG:
                return True
            if not token.startswith(("&", "!")):
                return False  # past the node's properties
        column = 0
    return False


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document that contains itself, or that aliases expand beyond the limits.

    Nodes are measured, not the values built from them: every node counts, keys included,
    whatever its tag (`!!pairs`, `!!omap`, `!!set`, a local tag), so no YAML type escapes the
    guard. The size is computed once per distinct node (memoised by identity), so measuring a
    billion laughs costs as little as composing it.
    """
    sizes: dict[int, tuple[int, int]] = {}  # node -> (values, characters) once expanded
    open_nodes: set[int] = set()  # the collections being measured: ancestors of the current
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    shared = False
    while stack:
        node, finished = stack.pop()
        ident = id(node)
        if isinstance(node, yaml.ScalarNode):
            if ident in sizes:
                shared = True
            sizes[ident] = (1, len(node.value))
            continue
        children = _children(node)
        if finished:
            open_nodes.discard(ident)
            values, characters = 1, 0
            for child in children:
                child_values, child_characters = sizes[id(child)]
                values += child_values
                characters += child_characters
            sizes[ident] = (values, characters)
            continue
        if ident in sizes:
            shared = True
            continue
        open_nodes.add(ident)
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise Unreadable("YAML document contains itself (a recursive alias)", *at(root))
            stack.append((child, False))
    values, characters = sizes[id(root)]
    if shared and (values > MAX_EXPANDED_VALUES or characters > MAX_EXPANDED_CHARACTERS):
        raise Unreadable(
            f"YAML aliases expand this document beyond {MAX_EXPANDED_VALUES:,} values or "
            f"{MAX_EXPANDED_CHARACTERS // (1024 * 1024)} MiB of text (an alias bomb?); refused",
            *at(root),
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    """A collection's nodes: a sequence's items, a mapping's keys and values."""
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    items: list[yaml.Node] = node.value
    return items
