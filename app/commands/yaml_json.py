"""A YAML document's node tree into the JSON value sigs.k8s.io/yaml makes of it.

PyYAML's constructors build YAML 1.1 types Kubernetes never sees: `!!pairs` and `!!omap` as
lists of tuples, `!!set` as a Python set, timestamps as dates, `1:20` as 80. go-yaml v2 ignores
the tag of a mapping or a sequence, so `!!omap [a: 1]` is a list of one-key mappings there and
`!!set {a}` a mapping to null; it resolves scalars by its own rules (`app.commands.yaml_scalars`)
and merges `<<` keys in order, each later key overriding what came before, merged or not. A
merge go-yaml v2 refuses (of an alias of a list, say) is refused, and so are two different keys
of one mapping that become the same JSON key (`1` and `"1"`), which kubectl would resolve at
random, whether written in the mapping or brought in by a `<<` merge (the merged mapping's Go
keys are kept for that).
`json_value` builds exactly that from the composed nodes, so every document `check` reads is made
of dicts, lists and JSON scalars, whatever tags it carries.

It walks the tree without recursion and builds each node once: an alias shares the value of its
anchor. The caller refuses recursive and exploding documents before calling it
(`app.commands.manifests`).
"""

from __future__ import annotations

from typing import Final

import yaml

from app.commands.yaml_scalars import (
    STR_TAG,
    ScalarError,
    decode,
    is_merge_key,
    json_key,
)
from app.commands.yaml_scalars import (
    json_value as json_scalar,
)

_WANT_MAP: Final = "map merge requires map or sequence of maps as the value"


class DocumentError(Exception):
    """A document sigs.k8s.io/yaml cannot turn into JSON, and the node that says why."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.message, self.node = message, node


# A mapping's keys as go-yaml v2 holds them: JSON key -> (the Go key's type and value, its node).
_Keys = dict[str, tuple[object, yaml.Node]]


def json_value(root: yaml.Node) -> object:
    """The JSON value of a composed document (acyclic: the caller has checked)."""
    values: dict[int, object] = {}
    keys: dict[int, _Keys] = {}  # per mapping node, for merges into other mappings
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_built = stack.pop()
        ident = id(node)
        if ident in values:
            continue
        if isinstance(node, yaml.ScalarNode):
            values[ident] = _scalar_value(node)
        elif not children_built:
            stack.append((node, True))
            stack.extend((child, False) for child in _value_children(node))
        elif isinstance(node, yaml.MappingNode):
            values[ident] = _mapping(node, values, keys)
        else:
            values[ident] = [values[id(item)] for item in node.value]
    return values[id(root)]


def _value_children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes whose values `node` is made of; a key is decoded in place, and must be a scalar."""
    if isinstance(node, yaml.SequenceNode):
        items: list[yaml.Node] = node.value
        return items
    children: list[yaml.Node] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise DocumentError("invalid map key: a mapping or a list", key_node)
        children.append(value_node)
    return children


def _mapping(
    node: yaml.MappingNode, values: dict[int, object], keys: dict[int, _Keys]
) -> dict[str, object]:
    mapping: dict[str, object] = {}
    written: _Keys = {}
    for key_node, value_node in node.value:
        if is_merge_key(key_node.tag, key_node.value):
            for merged in _merged(key_node, value_node):
                for key, entry in keys[id(merged)].items():
                    _check_collision(written, key, entry, key_node)
                    written[key] = entry
                value = values[id(merged)]
                assert isinstance(value, dict)  # a mapping node's value
                mapping.update(value)
            continue
        try:
            decoded = decode(key_node.tag, key_node.value)
            key = json_key(decoded)
        except ScalarError as exc:
            raise DocumentError(str(exc), key_node) from None
        entry = ((type(decoded), decoded), key_node)
        _check_collision(written, key, entry, key_node)
        written[key] = entry
        mapping[key] = values[id(value_node)]  # a later duplicate key wins, as in go-yaml v2
    keys[id(node)] = written
    return mapping


def _check_collision(
    written: _Keys, key: str, entry: tuple[object, yaml.Node], at: yaml.Node
) -> None:
    earlier = written.get(key)
    if earlier is not None and earlier[0] != entry[0]:
        raise DocumentError(_collision(key, earlier[1], entry[1]), at)


def _collision(key: str, first: yaml.Node, second: yaml.Node) -> str:
    """Two different keys (`1` and `"1"`) that sigs.k8s.io/yaml writes as one JSON key.

    go-yaml v2 decodes them as two keys of a `map[interface{}]interface{}`; converting to JSON
    writes both as the same string, and which one the API server keeps depends on Go's map
    iteration order: kubectl applies either at random. Refused, naming both.
    """
    return (
        f"mapping keys {_spelled(first)} (line {_line(first)}) and {_spelled(second)} "
        f"(line {_line(second)}) both become the JSON key {key!r}; kubectl would keep one of "
        "them at random"
    )


def _spelled(node: yaml.Node) -> str:
    return repr(node.value) if node.tag == STR_TAG else str(node.value)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _merged(key_node: yaml.Node, node: yaml.Node) -> list[yaml.MappingNode]:
    """The mappings `<<: *base` or `<<: [*a, *b]` merges, in the order they are applied: the
    merged keys land where the `<<` stands, the earlier of several mappings taking precedence.

    go-yaml v2's `decoder.merge` (decode.go) takes a mapping, an alias of a mapping, or a
    sequence (written in place) of mappings and aliases of mappings; anything else, an alias
    of a sequence included, fails with "map merge requires map or sequence of maps as the
    value". The composed tree shares an alias's node with its anchor, so an alias is told
    apart by where its node starts: an anchor always comes before the `<<` that uses it.
    """
    if isinstance(node, yaml.MappingNode):
        return [node]
    if (
        isinstance(node, yaml.SequenceNode)
        and not _defined_before(node, key_node)
        and all(isinstance(item, yaml.MappingNode) for item in node.value)
    ):
        return list(reversed(node.value))
    raise DocumentError(_WANT_MAP, node)


def _defined_before(node: yaml.Node, key_node: yaml.Node) -> bool:
    """Whether `node` starts before `key_node`: it is an alias's anchored node, not the value
    written after the key."""
    start, key = node.start_mark, key_node.start_mark
    if start is None or key is None:
        return False
    return (start.line, start.column) < (key.line, key.column)


def _scalar_value(node: yaml.ScalarNode) -> object:
    try:
        return json_scalar(decode(node.tag, node.value))
    except ScalarError as exc:
        raise DocumentError(str(exc), node) from None
