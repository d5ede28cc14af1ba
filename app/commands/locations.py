"""Where in a YAML manifest a field is: the line and column a finding points at.

A field error carries its path as segments (`app.k8s.field.FieldPath`), so the path is walked
over the document's node tree directly; nothing is parsed back out of rendered text.
"""

from __future__ import annotations

import yaml

from app.commands.yaml_scalars import ScalarError, decode, json_key
from app.k8s.field import FieldPath


def at(node: yaml.Node | None) -> tuple[int | None, int | None]:
    """The 1-based line and column where `node` starts, when there is one."""
    if node is None or node.start_mark is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def node_at(node: yaml.Node | None, path: FieldPath) -> yaml.Node | None:
    """The node a field path points at, or the deepest existing parent along it."""
    current = node
    for segment in path.segments:
        child: yaml.Node | None = None
        if segment.kind == "index":
            child = item_node(current, segment.position)
        else:
            child = child_node(current, segment.name)
        if child is None:
            break
        current = child
    return current


def child_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value node of `key` in a mapping node; the last of duplicate keys wins, as it does
    when the YAML is decoded. Keys are compared as JSON has them (`on:` is the key `true`)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, yaml.ScalarNode) and _json_key(key_node) == key:
                found: yaml.Node = value_node
                return found
    return None


def _json_key(node: yaml.ScalarNode) -> str | None:
    try:
        return json_key(decode(node.tag, node.value))
    except ScalarError:
        return None


def item_node(node: yaml.Node | None, index: int) -> yaml.Node | None:
    """The `index`th item of a sequence node."""
    if isinstance(node, yaml.SequenceNode) and 0 <= index < len(node.value):
        item: yaml.Node = node.value[index]
        return item
    return None
