"""Label selector validation: apimachinery's `ValidateLabelSelector` rules on raw JSON.

Expected messages are copied from apimachinery's own tests (v0.35+ wording).
"""

from dataclasses import dataclass, field

import pytest

from app.k8s.field import MAX_REPORTED_ERRORS, FieldPath
from app.k8s.labels import validate_label_selector
from app.k8s.names import is_dns1123_subdomain, is_label_value, is_qualified_name

SEL = "spec.promotionPolicies[0].stageSelector"
PATH = FieldPath.root("spec").child("promotionPolicies").index(0).child("stageSelector")
ML = f"{SEL}.matchLabels"
ME = f"{SEL}.matchExpressions"

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TYPE_INVALID = "FieldValueTypeInvalid"

KEY_REGEX_ERROR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_REGEX_ERROR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_REGEX_ERROR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
SLASHES_ERROR = (
    f"a valid label key {KEY_REGEX_ERROR} with an optional DNS subdomain prefix and '/' "
    "(e.g. 'example.com/MyName')"
)


@dataclass(frozen=True)
class Case:
    selector: dict[str, object]
    # (field, reason, message substring), in the order the validator reports them.
    errors: list[tuple[str, str, str]] = field(default_factory=list)


def expr(**requirement: object) -> dict[str, object]:
    return {"matchExpressions": [requirement]}


ACCEPTED = [
    pytest.param(Case({}), id="empty selector"),
    pytest.param(Case({"matchLabels": None, "matchExpressions": None}), id="null means absent"),
    pytest.param(Case({"matchLabels": {}, "matchExpressions": []}), id="empty map and list"),
    pytest.param(
        Case({"name": "regex:(", "other": 1, "matchLabels": {"app": "web"}}),
        id="keys other than matchLabels and matchExpressions are ignored",
    ),
    pytest.param(
        Case(
            {
                "matchLabels": {
                    "app": "web",
                    "example.com/tier": "",
                    "Uppercase_Is_OK_123": "A-b_c.9",
                    "1.2.3.4/5678": "1234",
                    "a" * 63: "b" * 63,
                    ("p" * 63 + ".") * 3 + "p" * 61 + "/name": "x",
                }
            }
        ),
        id="valid keys and values at their length limits",
    ),
    pytest.param(
        Case(
            {
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["web", ""]},
                    {"key": "example.com/tier", "operator": "NotIn", "values": ["db"]},
                    {"key": "app", "operator": "Exists"},
                    {"key": "app", "operator": "DoesNotExist", "values": None},
                    {"key": "app", "operator": "Exists", "values": []},
                ]
            }
        ),
        id="each operator with the values it takes",
    ),
]

REJECTED = [
    pytest.param(
        Case({"matchLabels": {"app\n": "web"}}, [(ML, INVALID, f"name part {KEY_REGEX_ERROR}")]),
        id="trailing newline in a label key",
    ),
    pytest.param(
        Case({"matchLabels": {"app": "web\n"}}, [(ML, INVALID, VALUE_REGEX_ERROR)]),
        id="trailing newline in a label value",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"a" * 64: "x"}},
            [(ML, INVALID, "name part must be no more than 63 bytes")],
        ),
        id="label key name part over 63 characters",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"p" * 254 + "/x": "x"}},
            [(ML, INVALID, "prefix part must be no more than 253 bytes")],
        ),
        id="label key prefix over 253 characters",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"Example.com/app": "x"}},
            [(ML, INVALID, f"prefix part {SUBDOMAIN_REGEX_ERROR}")],
        ),
        id="uppercase label key prefix",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"example_com/app": "x"}},
            [(ML, INVALID, "prefix part a lowercase RFC 1123 subdomain")],
        ),
        id="underscore in label key prefix",
    ),
    pytest.param(
        Case({"matchLabels": {"/app": "x"}}, [(ML, INVALID, "prefix part must be non-empty")]),
        id="empty label key prefix",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"example.com/": "x"}},
            [
                (ML, INVALID, "name part must be non-empty"),
                (ML, INVALID, f"name part {KEY_REGEX_ERROR}"),
            ],
        ),
        id="empty label key name after prefix",
    ),
    pytest.param(
        Case({"matchLabels": {"a/b/c": "x"}}, [(ML, INVALID, SLASHES_ERROR)]),
        id="two slashes in a label key",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"": "x"}},
            [
                (ML, INVALID, "name part must be non-empty"),
                (ML, INVALID, f"name part {KEY_REGEX_ERROR}"),
            ],
        ),
        id="empty label key",
    ),
    pytest.param(
        Case({"matchLabels": {"-app": "x"}}, [(ML, INVALID, "name part must consist of")]),
        id="label key starting with a dash",
    ),
    pytest.param(
        Case({"matchLabels": {"app": "v" * 64}}, [(ML, INVALID, "must be no more than 63 bytes")]),
        id="label value over 63 characters",
    ),
    pytest.param(
        Case({"matchLabels": {"app": "-web"}}, [(ML, INVALID, VALUE_REGEX_ERROR)]),
        id="label value starting with a dash",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"app": "é" * 32}},
            [
                (ML, INVALID, "must be no more than 63 bytes"),
                (ML, INVALID, VALUE_REGEX_ERROR),
            ],
        ),
        id="label value length counted in UTF-8 bytes like Go",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"bad key": "bad value", "ok": "fine", "a/b/c": "x"}},
            [
                (ML, INVALID, "name part must consist of"),
                (ML, INVALID, "a valid label must be an empty string"),
                (ML, INVALID, "a valid label key must consist of"),
            ],
        ),
        id="every bad label reported in map order",
    ),
    pytest.param(
        Case({"matchLabels": ["app=web"]}, [(ML, TYPE_INVALID, "must be of type object")]),
        id="matchLabels is a list",
    ),
    pytest.param(
        Case({"matchLabels": "app=web"}, [(ML, TYPE_INVALID, "must be of type object")]),
        id="matchLabels is a string",
    ),
    pytest.param(
        Case({"matchLabels": {"app": 1}}, [(f"{ML}[app]", TYPE_INVALID, "of type string")]),
        id="label value is a number",
    ),
    pytest.param(
        Case({"matchLabels": {"app": None}}, [(f"{ML}[app]", TYPE_INVALID, "of type string")]),
        id="label value is null",
    ),
    pytest.param(
        Case({"matchLabels": {"app": True}}, [(f"{ML}[app]", TYPE_INVALID, "of type string")]),
        id="label value is a boolean",
    ),
    pytest.param(
        Case(
            {"matchLabels": {"bad key": ["x"]}},
            [
                (ML, INVALID, "name part must consist of"),
                (f"{ML}[bad key]", TYPE_INVALID, "of type string"),
            ],
        ),
        id="bad key and wrongly typed value both reported",
    ),
    pytest.param(
        Case({"matchExpressions": {"key": "app"}}, [(ME, TYPE_INVALID, "must be of type array")]),
        id="matchExpressions is an object",
    ),
    pytest.param(
        Case({"matchExpressions": ["app in (web)"]}, [(f"{ME}[0]", TYPE_INVALID, "object")]),
        id="requirement is a string",
    ),
    pytest.param(
        Case({"matchExpressions": [None]}, [(f"{ME}[0]", TYPE_INVALID, "object")]),
        id="requirement is null",
    ),
    pytest.param(
        Case(expr(operator="Exists"), [(f"{ME}[0].key", REQUIRED, "must be specified")]),
        id="key missing",
    ),
    pytest.param(
        Case(expr(key=None, operator="Exists"), [(f"{ME}[0].key", REQUIRED, "")]),
        id="key null",
    ),
    pytest.param(
        Case(expr(key=7, operator="Exists"), [(f"{ME}[0].key", TYPE_INVALID, "string")]),
        id="key is a number",
    ),
    pytest.param(
        Case(
            expr(key="", operator="Exists"),
            [
                (f"{ME}[0].key", INVALID, "name part must be non-empty"),
                (f"{ME}[0].key", INVALID, "name part must consist of"),
            ],
        ),
        id="key empty string is invalid the Kubernetes way",
    ),
    pytest.param(
        Case(expr(key="app\n", operator="Exists"), [(f"{ME}[0].key", INVALID, "name part")]),
        id="key with trailing newline",
    ),
    pytest.param(
        Case(expr(key="app"), [(f"{ME}[0].operator", REQUIRED, "must be specified")]),
        id="operator missing",
    ),
    pytest.param(
        Case(expr(key="app", operator=None), [(f"{ME}[0].operator", REQUIRED, "")]),
        id="operator null",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="in", values=["web"]),
            [(f"{ME}[0].operator", NOT_SUPPORTED, '"In", "NotIn", "Exists", "DoesNotExist"')],
        ),
        id="operator in the wrong case",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="Exists "),
            [(f"{ME}[0].operator", NOT_SUPPORTED, "supported values")],
        ),
        id="operator with a trailing space",
    ),
    pytest.param(
        Case(expr(key="app", operator=""), [(f"{ME}[0].operator", NOT_SUPPORTED, "")]),
        id="operator empty string",
    ),
    pytest.param(
        Case(expr(key="app", operator=["In"]), [(f"{ME}[0].operator", TYPE_INVALID, "string")]),
        id="operator is a list",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="In"),
            [(f"{ME}[0].values", REQUIRED, "must be specified when `operator` is 'In' or 'NotIn'")],
        ),
        id="In without values",
    ),
    pytest.param(
        Case(expr(key="app", operator="NotIn", values=[]), [(f"{ME}[0].values", REQUIRED, "")]),
        id="NotIn with an empty list",
    ),
    pytest.param(
        Case(expr(key="app", operator="In", values=None), [(f"{ME}[0].values", REQUIRED, "")]),
        id="In with null values",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="Exists", values=["web"]),
            [
                (
                    f"{ME}[0].values",
                    FORBIDDEN,
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            ],
        ),
        id="Exists with values",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="DoesNotExist", values=[""]),
            [(f"{ME}[0].values", FORBIDDEN, "may not be specified")],
        ),
        id="DoesNotExist with an empty-string value",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="In", values="web"),
            [(f"{ME}[0].values", TYPE_INVALID, "must be of type array")],
        ),
        id="values is a string, not also reported as missing",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="In", values=[1, None, ["x"]]),
            [
                (f"{ME}[0].values[0]", TYPE_INVALID, "string"),
                (f"{ME}[0].values[1]", TYPE_INVALID, "string"),
                (f"{ME}[0].values[2]", TYPE_INVALID, "string"),
            ],
        ),
        id="values of the wrong types",
    ),
    pytest.param(
        Case(
            expr(key="app", operator="In", values=["ok", "bad value", "web\n"]),
            [
                (f"{ME}[0].values[1]", INVALID, VALUE_REGEX_ERROR),
                (f"{ME}[0].values[2]", INVALID, VALUE_REGEX_ERROR),
            ],
        ),
        id="invalid label values in a requirement",
    ),
    pytest.param(
        Case(
            expr(key="bad key", operator="Exists", values=["-x"]),
            [
                (f"{ME}[0].values", FORBIDDEN, ""),
                (f"{ME}[0].key", INVALID, "name part"),
                (f"{ME}[0].values[0]", INVALID, "a valid label"),
            ],
        ),
        id="operator, key and value problems of one requirement in Kubernetes order",
    ),
    pytest.param(
        Case(
            {
                "matchLabels": {"app": 1},
                "matchExpressions": [
                    {"key": "app", "operator": "Exists"},
                    {"operator": "Sometimes"},
                    "x",
                ],
            },
            [
                (f"{ML}[app]", TYPE_INVALID, ""),
                (f"{ME}[1].operator", NOT_SUPPORTED, ""),
                (f"{ME}[1].key", REQUIRED, ""),
                (f"{ME}[2]", TYPE_INVALID, ""),
            ],
        ),
        id="all problems across labels and expressions collected",
    ),
]


@pytest.mark.parametrize("case", ACCEPTED + REJECTED)
def test_validate_label_selector(case: Case) -> None:
    errs = validate_label_selector(PATH, case.selector)
    got = [(e.field, e.type.reason) for e in errs]
    assert got == [(f, r) for f, r, _ in case.errors], [str(e) for e in errs]
    for err, (_, _, substring) in zip(errs, case.errors, strict=True):
        assert substring in err.message


def test_messages_render_like_kubernetes() -> None:
    errs = validate_label_selector(
        PATH,
        {
            "matchExpressions": [
                {"key": "a/b/c", "operator": "in"},
                {"key": "app", "operator": "NotIn"},
            ]
        },
    )
    assert [str(e) for e in errs] == [
        f'{ME}[0].operator: Unsupported value: "in": supported values: '
        '"In", "NotIn", "Exists", "DoesNotExist"',
        f'{ME}[0].key: Invalid value: "a/b/c": {SLASHES_ERROR}',
        f"{ME}[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    ]


def test_label_errors_are_reported_at_the_map_path() -> None:
    (err,) = validate_label_selector(PATH, {"matchLabels": {"app": "web!"}})
    assert str(err) == f'{ML}: Invalid value: "web!": {VALUE_REGEX_ERROR}'


@pytest.mark.parametrize(
    "value",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now-with-dashes/simple",
        "now-with-dashes/now-with-dashes",
        "now.with.dots/simple",
        "now-with.dashes-and.dots/simple",
        "1-num.2-num/3-num",
        "1234/5678",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "requests.storage-foo",
        "a" * 63,
        "a" * 253 + "/a",
    ],
)
def test_is_qualified_name_accepts(value: str) -> None:
    assert is_qualified_name(value) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("nospecialchars%^=@", [f"name part {KEY_REGEX_ERROR}"], id="special chars"),
        pytest.param("cantendwithadash-", [f"name part {KEY_REGEX_ERROR}"], id="trailing dash"),
        pytest.param("-cantstartwithadash", [f"name part {KEY_REGEX_ERROR}"], id="leading dash"),
        pytest.param("only/one/slash", [SLASHES_ERROR], id="two slashes"),
        pytest.param(
            "Example.com/abc", [f"prefix part {SUBDOMAIN_REGEX_ERROR}"], id="uppercase prefix"
        ),
        pytest.param(
            "example.com/",
            ["name part must be non-empty", f"name part {KEY_REGEX_ERROR}"],
            id="empty name",
        ),
        pytest.param(
            "/simple", ["prefix part must be non-empty"], id="empty prefix with a valid name"
        ),
        pytest.param("a" * 64, ["name part must be no more than 63 bytes"], id="name too long"),
        pytest.param(
            "a" * 254 + "/a", ["prefix part must be no more than 253 bytes"], id="prefix too long"
        ),
        pytest.param("simple\n", [f"name part {KEY_REGEX_ERROR}"], id="trailing newline"),
        pytest.param("example.com\n/a", [f"prefix part {SUBDOMAIN_REGEX_ERROR}"], id="newline"),
    ],
)
def test_is_qualified_name_rejects(value: str, expected: list[str]) -> None:
    assert is_qualified_name(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63],
)
def test_is_label_value_accepts(value: str) -> None:
    assert is_label_value(value) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("nospecialchars%^=@", [VALUE_REGEX_ERROR], id="special chars"),
        pytest.param("Tama-nui-te-rā.is.Māori.sun", [VALUE_REGEX_ERROR], id="non-ascii"),
        pytest.param("\\backslashes\\are\\bad", [VALUE_REGEX_ERROR], id="backslashes"),
        pytest.param("-starts-with-dash", [VALUE_REGEX_ERROR], id="leading dash"),
        pytest.param("ends-with-dash-", [VALUE_REGEX_ERROR], id="trailing dash"),
        pytest.param(".starts.with.dot", [VALUE_REGEX_ERROR], id="leading dot"),
        pytest.param("value\n", [VALUE_REGEX_ERROR], id="trailing newline"),
        pytest.param("a" * 64, ["must be no more than 63 bytes"], id="too long"),
        pytest.param(
            "a" * 64 + "-", ["must be no more than 63 bytes", VALUE_REGEX_ERROR], id="both"
        ),
    ],
)
def test_is_label_value_rejects(value: str, expected: list[str]) -> None:
    assert is_label_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("example.com", [], id="subdomain"),
        pytest.param("a", [], id="single character"),
        pytest.param("a" * 253, [], id="253 characters"),
        pytest.param("a" * 254, ["must be no more than 253 bytes"], id="254 characters"),
        pytest.param("Example.com", [SUBDOMAIN_REGEX_ERROR], id="uppercase"),
        pytest.param("example..com", [SUBDOMAIN_REGEX_ERROR], id="empty label"),
        pytest.param("example.com.", [SUBDOMAIN_REGEX_ERROR], id="trailing dot"),
        pytest.param("example.com\n", [SUBDOMAIN_REGEX_ERROR], id="trailing newline"),
        pytest.param("", [SUBDOMAIN_REGEX_ERROR], id="empty"),
    ],
)
def test_is_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert is_dns1123_subdomain(value) == expected


def test_wrong_types_never_raise() -> None:
    odd: list[object] = [None, True, 0, 1.5, "x", [], {}, [None], {"k": None}, [[]]]
    for value in odd:
        for key in ("matchLabels", "matchExpressions"):
            validate_label_selector(PATH, {key: value})
        for field_name in ("key", "operator", "values"):
            validate_label_selector(PATH, expr(**{field_name: value}))


def test_twenty_thousand_labels_and_expressions_are_accepted() -> None:
    n = 20_000
    selector: dict[str, object] = {
        "matchLabels": {f"example.com/key-{i}": f"value-{i}" for i in range(n)},
        "matchExpressions": [
            {"key": f"k{i}", "operator": "In", "values": ["a", "b"]} for i in range(n)
        ],
    }
    assert not validate_label_selector(PATH, selector)


def test_errors_are_bounded_as_they_are_found() -> None:
    """A selector of thousands of bad labels keeps no more errors than any validation."""
    labels = {f"k{i}": "bad value" for i in range(5000)}
    errs = validate_label_selector(PATH, {"matchLabels": labels})
    assert errs.total == 5000
    assert len(errs) == MAX_REPORTED_ERRORS
    assert errs.omitted == 5000 - MAX_REPORTED_ERRORS
