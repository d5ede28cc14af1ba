"""The manifest loader against go-yaml v2's resolution rules, as sigs.k8s.io/yaml applies them.

The table is written from go-yaml v2's `resolve.go` (the copy vendored as sigs.k8s.io/yaml's
`goyaml.v2`), its decoder's untyped-value rules (`decode.go`) and sigs.k8s.io/yaml's
`convertToJSONableObject` and `json.Marshal`: one row per fact, the expected value being the
JSON the API server receives, never what this loader computes. Each row goes through the whole
loader (`documents`), as `check` reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.commands.check import CheckOptions, check_paths
from app.commands.manifests import Unreadable, documents
from app.commands.yaml_scalars import go_format_float32


@dataclass(frozen=True)
class Row:
    yaml: str  # the scalar as written after `v: `
    json: object  # what the API server receives


def row(yaml: str, json: object, fact: str) -> object:
    return pytest.param(Row(yaml, json), id=f"{fact}: {yaml}")


def decoded(text: str) -> object:
    ((value, _node),) = list(documents("m.yaml", text.encode()))
    return value


VALUES = [
    # resolveMapList: the YAML 1.1 words, in exactly these spellings.
    *(row(word, True, "bool true") for word in ("y", "Y", "yes", "Yes", "YES")),
    *(row(word, True, "bool true") for word in ("true", "True", "TRUE", "on", "On", "ON")),
    *(row(word, False, "bool false") for word in ("n", "N", "no", "No", "NO")),
    *(row(word, False, "bool false") for word in ("false", "False", "FALSE", "off", "Off", "OFF")),
    *(row(word, None, "null") for word in ("", "~", "null", "Null", "NULL")),
    # Hint 'M' (first character in yYnNtTfFoO~): the map or nothing, so other spellings are text.
    *(
        row(word, word, "other spellings are strings")
        for word in ("yES", "nO", "tRUE", "oN", "NuLL", "~~", "yess", "nope")
    ),
    # Hint 'D'/'S': ParseInt(plain, 0, 64) after removing every "_".
    row("0", 0, "int"),
    row("-0", 0, "int"),
    row("+12", 12, "int with sign"),
    row("1_000", 1000, "underscores removed"),
    row("0x1F", 31, "hex"),
    row("0X1f", 31, "hex, upper-case prefix"),
    row("-0x1F", -31, "hex with sign"),
    row("0o17", 15, "0o octal"),
    row("0b1010", 10, "binary"),
    row("-0b101", -5, "binary with sign"),
    row("0777", 511, "leading-zero octal"),
    row("0x_1F", 31, "underscore after the prefix"),
    row("9223372036854775807", 9223372036854775807, "int64 max"),
    row("18446744073709551615", 18446744073709551615, "uint64 max"),
    # Not an integer: yamlStyleFloat ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$,
    # then JSON writes an integral float without a fraction and the API server reads an integer.
    row("1e3", 1000, "float without exponent sign"),
    row("1E+3", 1000, "float"),
    row("1.", 1, "float with bare point"),
    row("1.5", 1.5, "float"),
    row("-1.5e-3", -0.0015, "float"),
    row("1_000.5", 1000.5, "float, underscores removed"),
    row("08", 8, "bad octal is a float"),
    row("09.5", 9.5, "float with leading zero"),
    row("-.5", -0.5, "signed float starting with a point"),
    row("99999999999999999999", 100000000000000000000, "decimal beyond uint64 is a float"),
    row("+18446744073709551615", 18446744073709551616, "signed beyond int64 is a float"),
    # Released go-yaml v2 (v2.4.0, in sigs.k8s.io/yaml v1.4.0) has no big-integer fallback.
    row("0x10000000000000000", "0x10000000000000000", "hex beyond uint64 is text"),
    row("0o" + "7" * 23, "0o" + "7" * 23, "0o octal beyond uint64 is text"),
    row("0b1" + "0" * 64, "0b1" + "0" * 64, "binary beyond uint64 is text"),
    row("0xFFFF_FFFF_FFFF_FFFF", 18446744073709551615, "hex at uint64 max is an integer"),
    row("0" + "7" * 23, float(int("7" * 23)), "leading-zero digits beyond uint64: a float"),
    # Hint '.': ParseFloat of the text as written.
    row(".5", 0.5, "float from a point"),
    row(".5e3", 500, "float from a point"),
    row(".", ".", "a lone point is text"),
    row(".5_0", ".5_0", "ParseFloat takes no underscore"),
    row(".iNf", ".iNf", "not one of the infinities"),
    # Everything else stays text.
    row("1:20", "1:20", "no sexagesimal"),
    row("190:20:30.15", "190:20:30.15", "no sexagesimal float"),
    row("1e400", "1e400", "overflowing float is text"),
    row("0x", "0x", "prefix without digits"),
    row("0b102", "0b102", "bad binary digit"),
    row("1.2.3", "1.2.3", "version-like"),
    row("+", "+", "lone sign"),
    row("-0x" + "F" * 20, "-0x" + "F" * 20, "negative hex beyond int64 is text"),
    row("=", "=", "the YAML 1.1 value key is text"),
    row("<<", "<<", "a merge key as a value is text"),
    row("2024-01-01", "2024-01-01", "timestamps keep their text"),
    row("2024-1-2T15:04:05Z", "2024-1-2T15:04:05Z", "timestamps keep their text"),
    row("2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10", "timestamps keep their text"),
    # Quoted scalars are strings.
    row('"y"', "y", "quoted"),
    row("'1e3'", "1e3", "quoted"),
    row('"~"', "~", "quoted"),
    # Explicit tags: resolved, and must agree (an !!int may be read as a !!float).
    row("!!str 12", "12", "!!str"),
    row("!!str yes", "yes", "!!str"),
    row('!!int "12"', 12, "!!int on a quoted scalar"),
    row("!!bool yes", True, "!!bool"),
    row('!!null ""', None, "!!null"),
    row("!!float 1", 1, "!!int read as !!float"),
    row("!!float 1.5", 1.5, "!!float"),
    row("!!timestamp 2024-01-01", "2024-01-01", "!!timestamp keeps its text"),
    row("!!binary aGk=", "hi", "!!binary is the string of its bytes"),
    # Unknown tags, local or global, are ignored: the text, or the collection, as it is.
    row("!thing bar", "bar", "local tag ignored"),
    row("!!python/object/apply:os.system [echo]", ["echo"], "foreign global tag ignored"),
    row("!!set {a, b}", {"a": None, "b": None}, "!!set is a mapping to null"),
    row("!!omap [a: 1, b: 2]", [{"a": 1}, {"b": 2}], "!!omap is a list of mappings"),
    row("!!pairs [a: 1, a: 2]", [{"a": 1}, {"a": 2}], "!!pairs is a list of mappings"),
]


@pytest.mark.parametrize("case", VALUES)
def test_values_resolve_as_go_yaml_v2(case: Row) -> None:
    assert decoded(f"v: {case.yaml}\n") == {"v": case.json}


def test_resolved_types_are_exact() -> None:
    """`==` does not tell 1 from True or 1.0: the types the API server sees, checked apart."""
    value = decoded("a: y\nb: 1\nc: 1e3\nd: 1.5\ne: '1'\nf: ~\n")
    assert isinstance(value, dict)
    assert [type(value[k]) for k in "abcdef"] == [bool, int, int, float, str, type(None)]


KEYS = [
    row("y", "true", "bool key"),
    row("off", "false", "bool key"),
    row("12", "12", "int key"),
    row("0x1F", "31", "int key in decimal"),
    row("1e3", "1000", "float key, FormatFloat 'g' -1 32"),
    row("1.5", "1.5", "float key"),
    row("0.1", "0.1", "float key at float32 precision"),
    row("3.14159265358979", "3.1415927", "float key at float32 precision"),
    row("1e20", "1e+20", "float key in exponent form"),
    row("123456.0", "123456", "float key below 1e6 in plain form"),
    row("1000000.0", "1e+06", "float key from 1e6 in exponent form"),
    row("0.0001", "0.0001", "float key down to 1e-4 in plain form"),
    row("0.00001", "1e-05", "float key below 1e-4 in exponent form"),
    row(".inf", ".inf", "infinite key"),
    row("-.Inf", "-.inf", "infinite key"),
    row(".nan", ".nan", "NaN key"),
    row("2024-01-01", "2024-01-01", "timestamp key"),
    row("!!binary aGk=", "hi", "binary key"),
]


@pytest.mark.parametrize("case", KEYS)
def test_keys_become_json_strings_as_sigs_k8s_yaml_writes_them(case: Row) -> None:
    assert decoded(f"{case.yaml}: x\n") == {case.json: "x"}


REFUSED = [
    row("v: .inf", "cannot be written as JSON", "json.Marshal refuses an infinity"),
    row("v: -.inf", "cannot be written as JSON", "json.Marshal refuses an infinity"),
    row("v: .NaN", "cannot be written as JSON", "json.Marshal refuses NaN"),
    row("v: !!int 1.5", "cannot decode !!float `1.5` as a !!int", "tag disagrees"),
    row("v: !!bool maybe", "cannot decode !!str `maybe` as a !!bool", "tag disagrees"),
    row("v: !!int 1:20", "cannot decode !!str `1:20` as a !!int", "tag disagrees"),
    row("v: !!timestamp soon", "as a !!timestamp", "tag disagrees"),
    row("v: !!float 18446744073709551615", "as a !!float", "uint64 is not read as a float"),
    row("v: !!float yes", "cannot decode !!bool `yes` as a !!float", "a bool is not a float"),
    row("v: !!binary 'a b'", "invalid base64", "strict base64"),
    row("~: x", "unsupported map key", "null key"),
    row("18446744073709551615: x", "unsupported map key", "uint64 key"),
    row("? [a]\n: x", "invalid map key", "list key"),
    row("? {a: 1}\n: x", "invalid map key", "mapping key"),
    row("v: {<<: 1}", "map merge requires map or sequence of maps", "merge of a scalar"),
]


@pytest.mark.parametrize("case", REFUSED)
def test_what_sigs_k8s_yaml_refuses_is_an_unreadable_document(case: Row) -> None:
    with pytest.raises(Unreadable) as raised:
        decoded(case.yaml + "\n")
    assert str(case.json) in raised.value.message
    assert raised.value.line == 1


MERGES = [
    pytest.param(
        "b: &b {x: 1, z: 2}\nv: {<<: *b, z: 3}", {"x": 1, "z": 3}, id="a later key overrides"
    ),
    pytest.param(
        "b: &b {x: 1}\nv: {x: 0, <<: *b}", {"x": 1}, id="a merge overrides an earlier key"
    ),
    pytest.param(
        "v: {<<: [{x: 1}, {x: 2, z: 2}]}", {"x": 1, "z": 2}, id="the first merged mapping wins"
    ),
    pytest.param("v: {'<<': {x: 1}}", {"<<": {"x": 1}}, id="a quoted << is an ordinary key"),
    pytest.param("v: {!!merge '<<': {x: 1}}", {"x": 1}, id="an explicit !!merge merges"),
    pytest.param("v: {x: 1, x: 2}", {"x": 2}, id="the last duplicate key wins"),
]


@pytest.mark.parametrize(("text", "expected"), MERGES)
def test_merge_keys_and_duplicates_as_go_yaml_v2(text: str, expected: object) -> None:
    value = decoded(text + "\n")
    assert isinstance(value, dict)
    assert value["v"] == expected


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1.5e-5, "1.5e-05"),
        (16777217.0, "1.6777216e+07"),  # float32 rounds it
        (3.4e38, "3.4e+38"),
        (1e39, ".inf"),  # beyond float32
        (-2.5, "-2.5"),
    ],
)
def test_go_format_float32(number: float, text: str) -> None:
    assert go_format_float32(number) == text


# --- what `check` decides, reading YAML 1.1 scalars as the API server receives them ----------

PROJECT = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {name: p, namespace: p}
spec:
  promotionPolicies:
"""


@pytest.mark.parametrize(
    ("policy", "problems"),
    [
        pytest.param(
            "  - stage: y\n",
            [("spec.promotionPolicies[0].stage", "FieldValueTypeInvalid")],
            id="stage: y is the boolean true",
        ),
        pytest.param(
            "  - stageSelector: {matchLabels: {tier: n}}\n",
            [
                (
                    "spec.promotionPolicies[0].stageSelector.matchLabels[tier]",
                    "FieldValueTypeInvalid",
                )
            ],
            id="a label value n is the boolean false",
        ),
        pytest.param(
            "  - stageSelector: {name: 1e3}\n",
            [("spec.promotionPolicies[0].stageSelector.name", "FieldValueTypeInvalid")],
            id="1e3 is a number",
        ),
        pytest.param(
            "  - {stage: dev, autoRollback: {onFailedPromotions: y}}\n", [], id="y is a boolean"
        ),
        pytest.param(
            "  - {stage: dev, autoRollback: {onFailedPromotions: off}}\n", [], id="off is a boolean"
        ),
        pytest.param("  - stage: '1e3'\n", [], id="a quoted 1e3 is a name"),
        pytest.param("  - stage: 2024-01-01\n", [], id="a date stays a name"),
    ],
)
def test_check_decides_on_the_json_the_api_server_receives(
    policy: str, problems: list[tuple[str, str]], tmp_path: Path
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PROJECT + policy)
    report = check_paths([str(path)], CheckOptions())
    assert report.input_errors == []
    assert [(p.field, p.reason) for p in report.problems] == problems


def test_a_finding_under_a_resolved_key_points_at_its_line(tmp_path: Path) -> None:
    """`on:` is the JSON key `true`: the problem at `matchLabels[true]` names the line of `on:`."""
    path = tmp_path / "p.yaml"
    path.write_text(PROJECT + "  - stageSelector:\n      matchLabels:\n        on: y\n")
    (problem,) = check_paths([str(path)], CheckOptions()).problems
    assert problem.field == "spec.promotionPolicies[0].stageSelector.matchLabels[true]"
    assert (problem.line, problem.column) == (8, 13)
