"""A YAML document's node tree into the JSON value sigs.k8s.io/yaml makes of it.

PyYAML's constructors build YAML 1.1 types Kubernetes never sees: `!!pairs` and `!!omap` as
lists of tuples, `!!set` as a Python set, timestamps as dates, `1:20` as 80. go-yaml v2 ignores
the tag of a mapping or a sequence, so `!!omap [a: 1]` is a list of one-key mappings there and
`!!set {a}` a mapping to null; it resolves scalars by its own rules (`app.commands.yaml_scalars`)
and merges `<<` keys in order, each later key overriding what came before, merged or not.
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


def json_value(root: yaml.Node) -> object:
    """The JSON value of a composed document (acyclic: the caller has checked)."""
    values: dict[int, object] = {}
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
            values[ident] = _mapping(node, values)
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


def _mapping(node: yaml.MappingNode, values: dict[int, object]) -> dict[str, object]:
    mapping: dict[str, object] = {}
    for key_node, value_node in node.value:
        if is_merge_key(key_node.tag, key_node.value):
            _merge(mapping, value_node, values)
            continue
        try:
            key = json_key(decode(key_node.tag, key_node.value))
        except ScalarError as exc:
            raise DocumentError(str(exc), key_node) from None
        mapping[key] = values[id(value_node)]  # a later duplicate key wins, as in go-yaml v2
    return mapping


def _merge(mapping: dict[str, object], node: yaml.Node, values: dict[int, object]) -> None:
    """`<<: *base` or `<<: [*a, *b]`: the merged keys land where the `<<` stands, the earlier
    of several merged mappings taking precedence."""
    if isinstance(node, yaml.MappingNode):
        merged = [node]
    elif isinstance(node, yaml.SequenceNode) and all(
        isinstance(item, yaml.MappingNode) for item in node.value
    ):
        merged = list(reversed(node.value))
    else:
        raise DocumentError(_WANT_MAP, node)
    for item in merged:
        value = values[id(item)]
        assert isinstance(value, dict)  # a mapping node's value
        mapping.update(value)


def _scalar_value(node: yaml.ScalarNode) -> object:
    try:
        return json_scalar(decode(node.tag, node.value))
    except ScalarError as exc:
        raise DocumentError(str(exc), node) from None
