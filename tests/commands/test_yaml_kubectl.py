"""Four places where PyYAML's reading and kubectl's (sigs.k8s.io/yaml v1.4.0, go-yaml v2) part.

Each expectation is go-yaml v2's, from its source: `resolve.go` (`resolvableTag`, `resolve`),
`decode.go` (`isMerge`, `decoder.merge`) and the JSON conversion of sigs.k8s.io/yaml; never what
this loader happens to compute.
"""

from __future__ import annotations

import pytest

from app.commands.manifests import Unreadable, documents


def decoded(text: str) -> object:
    ((value, _node),) = list(documents("m.yaml", text.encode()))
    return value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("v: ! true", {"v": "true"}, id="! true is the string true"),
        pytest.param("v: ! 1", {"v": "1"}, id="! 1 is the string 1"),
        pytest.param("v: ! ~", {"v": "~"}, id="! ~ is not null"),
        pytest.param('v: ! "yes"', {"v": "yes"}, id="a quoted scalar with ! stays a string"),
        pytest.param("v: &a ! true\nw: *a", {"v": "true", "w": "true"}, id="after an anchor"),
        pytest.param("v: ! &a true\nw: *a", {"v": "true", "w": "true"}, id="before an anchor"),
        pytest.param("! 1: x", {"1": "x"}, id="a key with ! is the string key"),
        pytest.param("v: &a\n  ! true", {"v": "true"}, id="the tag on the line after the anchor"),
        pytest.param("v: ! # why\n  true", {"v": "true"}, id="a comment after the tag"),
        pytest.param("v: &a # note\n  true", {"v": True}, id="an anchor alone changes nothing"),
        pytest.param(
            "v: &a\n! w: x", {"v": None, "w": "x"}, id="the next key's tag is not the null's"
        ),
        pytest.param("v: [! true, true]", {"v": ["true", True]}, id="in a flow sequence"),
        pytest.param("v: !!str true", {"v": "true"}, id="!!str too (unchanged)"),
        pytest.param("v: true  # ! not a tag", {"v": True}, id="a ! elsewhere changes nothing"),
        pytest.param("v: 'a ! b'", {"v": "a ! b"}, id="a ! inside a value is text"),
        pytest.param(
            "b: &b {x: 1}\nv: {! <<: *b}", {"b": {"x": 1}, "v": {"x": 1}}, id="! << still merges"
        ),
    ],
)
def test_the_non_specific_tag_keeps_the_text(text: str, expected: object) -> None:
    assert decoded(text + "\n") == expected


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        pytest.param('1: a\n"1": b', 1, 2, id="int and string"),
        pytest.param("true: a\n'true': b", 1, 2, id="bool and string"),
        pytest.param("y: a\n'true': b", 1, 2, id="YAML 1.1 y and string"),
        pytest.param("x: 0\n1: a\nz: 0\n1.0: b", 2, 4, id="int and float"),
        pytest.param("v:\n  '2': a\n  2: b", 2, 3, id="nested mapping"),
        pytest.param("b: &b {1: a}\nv:\n  '1': x\n  <<: *b", 1, 3, id="a key and a merged key"),
        pytest.param("v: {<<: [{1: a}, {'1': b}]}", 1, 1, id="keys of two merged mappings"),
    ],
)
def test_keys_that_collide_in_json_are_refused_naming_both_lines(
    text: str, first: int, second: int
) -> None:
    with pytest.raises(Unreadable) as raised:
        decoded(text + "\n")
    message = raised.value.message
    assert f"(line {first})" in message
    assert f"(line {second})" in message
    assert "at random" in message
    assert raised.value.line in (second, 4)  # at the later key, or at the `<<` that merges it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a: 1\na: 2", {"a": 2}, id="the same key twice: the last wins"),
        pytest.param("1: a\n01: b", {"1": "b"}, id="1 and octal 01 are one Go key"),
        pytest.param("'1': a\n\"1\": b", {"1": "b"}, id="two quoted spellings of one string"),
        pytest.param(
            "b: &b {1: a}\nv: {1: x, <<: *b}",
            {"b": {"1": "a"}, "v": {"1": "a"}},
            id="a merged key overrides the same Go key",
        ),
    ],
)
def test_duplicates_of_one_go_key_are_not_collisions(text: str, expected: object) -> None:
    assert decoded(text + "\n") == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("l: &l [{x: 1}]\nv: {<<: *l}", id="an alias of a list of mappings"),
        pytest.param("l: &l [1]\nv:\n  <<: *l", id="an alias of a list of scalars"),
        pytest.param("s: &s 1\nv: {<<: *s}", id="an alias of a scalar"),
        pytest.param("l: &l [{x: 1}]\nv: {<<: [*l]}", id="a list holding an alias of a list"),
    ],
)
def test_merges_go_yaml_v2_refuses_are_refused(text: str) -> None:
    with pytest.raises(Unreadable) as raised:
        decoded(text + "\n")
    assert "map merge requires map or sequence of maps" in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("v: {<<: [{x: 1}, {z: 2}]}", {"x": 1, "z": 2}, id="a list written in place"),
        pytest.param("a: &a {x: 1}\nv: {<<: [*a]}", {"x": 1}, id="a list of aliases of maps"),
        pytest.param("a: &a {x: 1}\nv: {<<: *a}", {"x": 1}, id="an alias of a mapping"),
    ],
)
def test_merges_go_yaml_v2_accepts_are_accepted(text: str, expected: object) -> None:
    value = decoded(text + "\n")
    assert isinstance(value, dict)
    assert value["v"] == expected
