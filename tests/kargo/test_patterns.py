"""Stage name selectors must be judged as Kargo judges them: doublestar for `glob:`, Go's regexp
(not Python's `re`, not plain RE2 C++) for `regex:`/`regexp:`, with Kargo's error texts."""

from __future__ import annotations

import re

import pytest

from app.k8s.field import ErrorType, FieldPath
from app.kargo.patterns import (
    GLOB_SYNTAX_ERROR,
    glob_error,
    is_pattern,
    regex_error,
    validate_name_selector,
)
from app.kargo.patterns import regex as regex_rules

PATH = FieldPath.root("spec").child("promotionPolicies").index(0).child("stageSelector")
NAME_PATH = PATH.child("name")
FIELD = "spec.promotionPolicies[0].stageSelector.name"
IDENTIFIER_HINT = 'must be "regex", "regexp" or "glob"'


def go_error(code: str, expr: str) -> str:
    return f"error parsing regexp: {code}: `{expr}`"


# --------------------------------------------------------------------------------------------
# names that are not patterns, and pattern identifiers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="an empty name places no constraint"),
        pytest.param("prod", id="a plain stage name is an exact name"),
        pytest.param("prod-*", id="glob characters without a prefix are an exact name"),
        pytest.param("[unclosed(", id="broken pattern syntax without a colon is not checked"),
        pytest.param("glob", id="an identifier without a colon is just a name"),
    ],
)
def test_names_without_a_pattern_are_accepted(name: str) -> None:
    assert not validate_name_selector(NAME_PATH, name)


@pytest.mark.parametrize(
    ("name", "identifier"),
    [
        pytest.param("Glob:prod-*", '"Glob"', id="identifiers are case sensitive"),
        pytest.param("REGEX:.*", '"REGEX"', id="an upper case regex identifier is unknown"),
        pytest.param("re:.*", '"re"', id="an abbreviated identifier is unknown"),
        pytest.param(":prod", '""', id="an empty identifier is unknown"),
        pytest.param("team:prod", '"team"', id="a name with a colon needs a known identifier"),
        pytest.param(" glob:x", '" glob"', id="whitespace before the identifier counts"),
        pytest.param(
            'a"b\\c:x', '"a\\"b\\\\c"', id="the identifier is quoted the way Go's %q does"
        ),
    ],
)
def test_an_unknown_identifier_is_rejected(name: str, identifier: str) -> None:
    errors = validate_name_selector(NAME_PATH, name)

    assert len(errors) == 1
    assert errors.items[0].detail == f"invalid pattern identifier {identifier}: {IDENTIFIER_HINT}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("glob:", id="an empty glob is valid"),
        pytest.param("regex:", id="an empty regex is valid"),
        pytest.param("regexp:", id="an empty regexp is valid"),
        pytest.param("glob:a:b", id="only the first colon separates the identifier"),
        pytest.param("regex:^a:b$", id="colons after the identifier belong to the regex"),
        pytest.param("regexp:^prod-[0-9]+$", id="the regexp identifier is accepted"),
    ],
)
def test_known_identifiers_are_accepted(name: str) -> None:
    assert not validate_name_selector(NAME_PATH, name)


def test_the_error_names_the_field_and_the_whole_value() -> None:
    [error] = validate_name_selector(NAME_PATH, "regex:(")

    assert error.field == FIELD
    assert error.type is ErrorType.INVALID
    assert error.type.reason == "FieldValueInvalid"
    assert error.bad_value == "regex:("
    assert error.detail == go_error("missing closing )", "(")
    assert error.message == 'Invalid value: "regex:(": ' + go_error("missing closing )", "(")


def test_a_bad_glob_reports_doublestars_error() -> None:
    [error] = validate_name_selector(NAME_PATH, "glob:[a")

    assert error.field == FIELD
    assert error.type.reason == "FieldValueInvalid"
    assert error.bad_value == "glob:[a"
    assert error.detail == "syntax error in pattern"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("glob:x", True, id="a name with a colon is a pattern"),
        pytest.param(":", True, id="a lone colon is a pattern"),
        pytest.param("prod", False, id="a name without a colon is exact"),
        pytest.param("", False, id="an empty name is not a pattern"),
    ],
)
def test_is_pattern(name: str, expected: bool) -> None:
    assert is_pattern(name) is expected


# --------------------------------------------------------------------------------------------
# glob: doublestar v4 ValidatePattern
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("", id="an empty glob matches only the empty name"),
        pytest.param("prod-*", id="a star is valid"),
        pytest.param("**", id="a double star is valid"),
        pytest.param("prod-?", id="a question mark is valid"),
        pytest.param("{}", id="an empty alternation is valid"),
        pytest.param("{a,b}", id="an alternation is valid"),
        pytest.param("{a,{b,c}}", id="nested alternations are valid"),
        pytest.param("[abc]", id="a class is valid"),
        pytest.param("[!a]", id="a class negated with an exclamation mark is valid"),
        pytest.param("[^a]", id="a class negated with a caret is valid"),
        pytest.param("[z-a]", id="a reversed range is not checked"),
        pytest.param("[a-]", id="a trailing dash in a class is valid"),
        pytest.param("[\\]]", id="an escaped closing bracket stays inside the class"),
        pytest.param("[!\\]]", id="an escaped bracket after negation stays inside the class"),
        pytest.param("[{]", id="a brace inside a class is not an alternation"),
        pytest.param("\\\\", id="an escaped backslash is valid"),
        pytest.param("\\{", id="an escaped opening brace does not open an alternation"),
        pytest.param("a\\*", id="an escaped star is valid"),
    ],
)
def test_valid_globs(pattern: str) -> None:
    assert glob_error(pattern) is None
    assert not validate_name_selector(NAME_PATH, "glob:" + pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("a\\", id="a trailing lone backslash is an error"),
        pytest.param("\\", id="a lone backslash is an error"),
        pytest.param("[", id="an opening bracket alone is an error"),
        pytest.param("[a", id="an unterminated class is an error"),
        pytest.param("[]", id="an empty class is an error"),
        pytest.param("[]a]", id="a closing bracket right after the opening one empties the class"),
        pytest.param("[!]", id="an empty negated class is an error"),
        pytest.param("[^]", id="an empty caret negated class is an error"),
        pytest.param("[!]]", id="a closing bracket right after negation empties the class"),
        pytest.param("[!", id="a class cut off after negation is an error"),
        pytest.param("[\\]", id="an escaped closing bracket leaves the class open"),
        pytest.param("[a\\", id="a backslash at the end of a class is an error"),
        pytest.param("{", id="an unclosed alternation is an error"),
        pytest.param("}", id="a closing brace without an opening one is an error"),
        pytest.param("{a,b}}", id="an extra closing brace is an error"),
        pytest.param("{a,{b}", id="an unclosed nested alternation is an error"),
        pytest.param("{[}]", id="a brace inside a class does not close an alternation"),
    ],
)
def test_invalid_globs(pattern: str) -> None:
    assert glob_error(pattern) == GLOB_SYNTAX_ERROR
    [error] = validate_name_selector(NAME_PATH, "glob:" + pattern)
    assert error.detail == "syntax error in pattern"
    assert error.bad_value == "glob:" + pattern


# --------------------------------------------------------------------------------------------
# regex: accepted patterns
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("^prod-[0-9]+$", id="an ordinary anchored regex is valid"),
        pytest.param("(dev|staging)-.*", id="groups and alternation are valid"),
        pytest.param("\\pL", id="a one letter unicode class is valid although python rejects it"),
        pytest.param("\\p{Greek}", id="a unicode script is valid although python rejects it"),
        pytest.param("\\PL\\P{^Greek}", id="negated unicode classes are valid"),
        pytest.param("[\\p{Lu}\\d]", id="unicode and perl classes inside a class are valid"),
        pytest.param("a\\z", id="lower case z as end of text is valid"),
        pytest.param("(?<n>a)", id="a dotnet style named group is valid"),
        pytest.param("(?P<n>a)", id="a python style named group is valid"),
        pytest.param("(?P<n>a)(?P<n>b)", id="a repeated group name is valid in go"),
        pytest.param("\\Q.*+?\\E", id="a quoted literal is valid although python rejects it"),
        pytest.param("\\Q\\C\\E", id="a backslash C inside a quoted literal is just text"),
        pytest.param("\\Qabc", id="a quoted literal may run to the end"),
        pytest.param("\\\\C", id="an escaped backslash followed by C is valid"),
        pytest.param("\\x{41}\\x41\\101\\08", id="hex and octal escapes are valid"),
        pytest.param("(?U)a*", id="the ungreedy flag is valid although python rejects it"),
        pytest.param("(?i-s:a.)(?m)^", id="flag groups are valid"),
        pytest.param("[[:alpha:][:^digit:]]", id="posix classes are valid"),
        pytest.param("[]a]", id="a closing bracket first in a class is a literal"),
        pytest.param("[\\d-z]", id="a dash after a perl class is a literal"),
        pytest.param("a{,5}", id="a repetition without a minimum is literal text"),
        pytest.param("a{01}", id="a count with a leading zero is literal text"),
        pytest.param("x{1000}", id="a repeat count of 1000 is valid"),
        pytest.param("(?:[a-z]{4}){0,250}", id="a nested repeat product of 1000 is valid"),
        pytest.param(
            "((((((((((x{2}){2}){2}){2}){2}){2}){2}){2}){2}))",
            id="nine nested doublings are valid",
        ),
        pytest.param("\\pL{1000}", id="a repeated unicode class is not too large for go"),
        pytest.param("a*(?i)*", id="a flag group between repetitions separates them"),
        pytest.param("a*\\Q\\E*", id="an empty quoted literal separates repetitions"),
        pytest.param("\\p{greek}", id="unicode names are matched case insensitively"),
        pytest.param("\\p{Letter}\\p{Cased_Letter}", id="unicode category aliases are valid"),
        pytest.param(
            "\\p{Old_Italic}\\p{old italic}\\P{OLD_ITALIC}[\\p{sign-writing}]",
            id="multi word script names are matched loosely since go 1.27",
        ),
        pytest.param("\\p{Garay}\\p{Sunuwar}\\p{Tolong_Siki}", id="unicode 17 scripts are known"),
        pytest.param("\\p{ASCII}\\p{Any}\\p{Assigned}", id="special unicode names are valid"),
        pytest.param("\\p{Cn}\\p{LC}", id="the categories added in go 1.25 are valid"),
        pytest.param(
            "\\p{upper case-let ter}", id="category names ignore case spaces dashes and underscores"
        ),
        pytest.param("\\p{HAN}\\p{nko}", id="one word script names ignore case"),
        pytest.param("(" + "|" * 500 + ")", id="a wide alternation is not deep"),
        pytest.param("(" * 999 + ")" * 999, id="999 nested groups are valid"),
        pytest.param("(?:" * 999 + ")*" * 999, id="999 nested repetitions are valid"),
        pytest.param("(a" * 500 + ")" * 500, id="500 nested groups after literals are valid"),
        pytest.param(
            "(?:a" * 5000 + ")" * 5000, id="go flattens nested non capturing groups to any depth"
        ),
        pytest.param("(?:a)*(?:b|c)+(?:d)?", id="repeated non capturing groups are valid"),
        pytest.param("(?:a)(?s)*", id="a flag group lets a repetition reach back past a group"),
        pytest.param(
            "x" * 4_000_000, id="a literal of any length is never measured and never too large"
        ),
        pytest.param("a{1000}" * 3355, id="a program just under go's size budget is valid"),
    ],
)
def test_valid_regexes(pattern: str) -> None:
    assert regex_error(pattern) is None
    assert not validate_name_selector(NAME_PATH, "regex:" + pattern)


# --------------------------------------------------------------------------------------------
# regex: rejected patterns, with Go's exact message
# --------------------------------------------------------------------------------------------

DEEP_GROUPS = "(" * 1000 + ")" * 1000
DEEP_REPEATS = "(?:" * 1000 + ")*" * 1000
DEEP_CONCATS = "(a" * 501 + ")" * 501


@pytest.mark.parametrize(
    ("pattern", "code", "expr"),
    [
        pytest.param("(", "missing closing )", "(", id="an unclosed group"),
        pytest.param("a(b", "missing closing )", "a(b", id="missing paren quotes the regex"),
        pytest.param("a)", "unexpected )", "a)", id="an unopened group"),
        pytest.param("[a", "missing closing ]", "[a", id="an unclosed class"),
        pytest.param("x[a(b", "missing closing ]", "[a(b", id="missing bracket quotes the rest"),
        pytest.param("[]", "missing closing ]", "[]", id="an empty class never closes"),
        pytest.param("*", "missing argument to repetition operator", "*", id="a bare star"),
        pytest.param(
            "a|*?", "missing argument to repetition operator", "*?", id="star after a bar"
        ),
        pytest.param("{2}", "missing argument to repetition operator", "{2}", id="a bare count"),
        pytest.param(
            "a(?:*)", "missing argument to repetition operator", "*", id="a star opening a group"
        ),
        pytest.param(
            "(?:(?i)*)",
            "missing argument to repetition operator",
            "*",
            id="a flag group gives a star nothing to repeat",
        ),
        pytest.param(
            "(?P<n>?)",
            "missing argument to repetition operator",
            "?",
            id="a question mark opening a named group",
        ),
        pytest.param("a++", "invalid nested repetition operator", "++", id="possessive plus"),
        pytest.param("a**", "invalid nested repetition operator", "**", id="a doubled star"),
        pytest.param(
            "x{2}{3}", "invalid nested repetition operator", "{2}{3}", id="stacked counts"
        ),
        pytest.param("a{1001}", "invalid repeat count", "{1001}", id="a count above 1000"),
        pytest.param("a{2,1}", "invalid repeat count", "{2,1}", id="a reversed count"),
        pytest.param(
            "a{99999999999}",
            "invalid repeat count",
            "{99999999999}",
            id="an overflowing count is an error in go but literal text in re2",
        ),
        pytest.param(
            "a*{1001}", "invalid repeat count", "{1001}", id="go checks the count before nesting"
        ),
        pytest.param(
            "(?:[a-z]{4}){0,251}",
            "invalid repeat count",
            "{0,251}",
            id="a nested repeat product above 1000",
        ),
        pytest.param(
            "(a{2}){501}?",
            "invalid repeat count",
            "{501}?",
            id="a product error quotes the lazy operator",
        ),
        pytest.param("(?=x)", "invalid or unsupported Perl syntax", "(?=", id="a lookahead"),
        pytest.param("(?!x)", "invalid or unsupported Perl syntax", "(?!", id="negative lookahead"),
        pytest.param("(?>a)", "invalid or unsupported Perl syntax", "(?>", id="an atomic group"),
        pytest.param(
            "(a)(?P=n)", "invalid or unsupported Perl syntax", "(?P", id="a named backreference"
        ),
        pytest.param("(?x)a", "invalid or unsupported Perl syntax", "(?x", id="the extended flag"),
        pytest.param("(?#c)", "invalid or unsupported Perl syntax", "(?#", id="a comment group"),
        pytest.param("(?'n'a)", "invalid or unsupported Perl syntax", "(?'", id="quote named"),
        pytest.param("(?i)(?-)", "invalid or unsupported Perl syntax", "(?-)", id="empty negation"),
        pytest.param("(?", "invalid or unsupported Perl syntax", "(?", id="a cut off flag group"),
        pytest.param(
            "(?<=a)b",
            "invalid named capture",
            "(?<=a)b",
            id="go reads a lookbehind as an unterminated named group",
        ),
        pytest.param("(?P<名>a)", "invalid named capture", "(?P<名>", id="a non ascii name"),
        pytest.param("(?P<>a)", "invalid named capture", "(?P<>", id="an empty group name"),
        pytest.param("(?P<n", "invalid named capture", "(?P<n", id="an unterminated name"),
        pytest.param("(a)\\1", "invalid escape sequence", "\\1", id="a numbered backreference"),
        pytest.param("\\Z", "invalid escape sequence", "\\Z", id="upper case Z end anchor"),
        pytest.param("\\u0041", "invalid escape sequence", "\\u", id="a u escape"),
        pytest.param("\\C", "invalid escape sequence", "\\C", id="the any byte escape"),
        pytest.param("a\\Cb", "invalid escape sequence", "\\C", id="the any byte escape inside"),
        pytest.param("[\\C]", "invalid escape sequence", "\\C", id="any byte inside a class"),
        pytest.param("\\Q\\E\\C", "invalid escape sequence", "\\C", id="any byte after quoting"),
        pytest.param("[\\Q]\\E]", "invalid escape sequence", "\\Q", id="quoting inside a class"),
        pytest.param("[a-\\d]", "invalid escape sequence", "\\d", id="a class as a range end"),
        pytest.param("[\\b]", "invalid escape sequence", "\\b", id="a word boundary in a class"),
        pytest.param("\\8", "invalid escape sequence", "\\8", id="a non octal digit escape"),
        pytest.param("\\xZ", "invalid escape sequence", "\\xZ", id="a bad hex escape"),
        pytest.param("\\x{}", "invalid escape sequence", "\\x{}", id="an empty braced hex escape"),
        pytest.param(
            "\\x{110000}", "invalid escape sequence", "\\x{110000", id="a hex escape past unicode"
        ),
        pytest.param("\\é", "invalid escape sequence", "\\é", id="an escaped non ascii letter"),
        pytest.param("\\", "trailing backslash at end of expression", "", id="a lone backslash"),
        pytest.param("[\\", "trailing backslash at end of expression", "", id="backslash in class"),
        pytest.param("[z-a]", "invalid character class range", "z-a", id="a reversed range"),
        pytest.param(
            "[[:foo:]]", "invalid character class range", "[:foo:]", id="an unknown posix class"
        ),
        pytest.param(
            "\\p{Zzzz}", "invalid character class range", "\\p{Zzzz}", id="an unknown script"
        ),
        pytest.param("\\pX", "invalid character class range", "\\pX", id="an unknown letter"),
        pytest.param(
            "\\p{Old.Italic}",
            "invalid character class range",
            "\\p{Old.Italic}",
            id="a script name with a separator go does not ignore",
        ),
        pytest.param(
            "\\p{Sign_Writings}",
            "invalid character class range",
            "\\p{Sign_Writings}",
            id="a loosely spelled script name with a letter too many",
        ),
        pytest.param(
            "\\p{Greek", "invalid character class range", "\\p{Greek", id="an unclosed name"
        ),
        pytest.param("\\p", "invalid character class range", "\\p", id="a bare unicode escape"),
        pytest.param(
            DEEP_GROUPS,
            "expression nests too deeply",
            DEEP_GROUPS,
            id="1000 nested groups are too deep",
        ),
        pytest.param(
            DEEP_REPEATS,
            "expression nests too deeply",
            DEEP_REPEATS,
            id="1000 nested repetitions are too deep",
        ),
        pytest.param(
            DEEP_CONCATS,
            "expression nests too deeply",
            DEEP_CONCATS,
            id="501 nested groups after literals are too deep",
        ),
    ],
)
def test_invalid_regexes_report_gos_message(pattern: str, code: str, expr: str) -> None:
    assert regex_error(pattern) == go_error(code, expr)
    [error] = validate_name_selector(NAME_PATH, "regexp:" + pattern)
    assert error.detail == go_error(code, expr)
    assert error.bad_value == "regexp:" + pattern


@pytest.mark.parametrize(
    ("pattern", "code", "expr"),
    [
        pytest.param("a**\\C", "invalid nested repetition operator", "**", id="nesting before C"),
        pytest.param("\\C**", "invalid escape sequence", "\\C", id="C before nesting"),
        pytest.param("(\\C", "invalid escape sequence", "\\C", id="C before the missing paren"),
        pytest.param(")\\C", "unexpected )", ")\\C", id="an unexpected paren before C"),
        pytest.param("(*)[", "missing argument to repetition operator", "*", id="argument first"),
        pytest.param("[z-a]a**", "invalid character class range", "z-a", id="range first"),
        pytest.param(
            DEEP_GROUPS + "\\C",
            "expression nests too deeply",
            DEEP_GROUPS + "\\C",
            id="depth before a later C",
        ),
    ],
)
def test_the_first_error_in_go_parse_order_wins(pattern: str, code: str, expr: str) -> None:
    assert regex_error(pattern) == go_error(code, expr)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("a{1000}" * 3356, id="many large repetitions"),
        pytest.param("(" + "(xx?)" * 1000 + "){1000}", id="a large group repeated 1000 times"),
        pytest.param("(xx?){1000}" * 1000, id="a thousand repeated groups"),
    ],
)
def test_a_regex_too_large_for_go_is_rejected(pattern: str) -> None:
    # Go refuses a program over 128 MiB of instructions (3,355,443), measuring only once the
    # product of repeat counts makes that possible; these cases are from Go's parse_test.go.
    assert regex_error(pattern) == go_error("expression too large", pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("(?=x)", id="a lookahead"),
        pytest.param("\\1(a)", id="a backreference"),
        pytest.param("(", id="an unclosed group"),
        pytest.param("a{1001}", id="a large count"),
        pytest.param("\\C", id="the any byte escape"),
    ],
)
def test_nothing_is_written_to_stderr(pattern: str, capfd: pytest.CaptureFixture[str]) -> None:
    regex_rules.clear_cache()

    assert regex_error(pattern) is not None

    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_results_are_cached_per_pattern() -> None:
    # Asked of the cache itself: the module may be compiled (mypyc), where patching one of its
    # functions from outside does not change the calls it makes.
    regex_rules.clear_cache()

    first = regex_error("^cached-(a|b)$")
    second = regex_error("^cached-(a|b)$")

    assert first is second is None
    hits, misses, entries, _ = regex_rules.cache_stats()
    assert (misses, hits, entries) == (1, 1, 1)


def test_unpaired_surrogates_are_read_as_go_reads_them() -> None:
    # Go's JSON decoder turns an unpaired surrogate into U+FFFD before the regexp sees it.
    assert regex_error("\ud800(") == go_error("missing closing )", "\ufffd(")


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("\\pL", id="one letter unicode class"),
        pytest.param("\\z", id="end of text"),
        pytest.param("(?U)a", id="ungreedy flag"),
        pytest.param("\\Q+\\E", id="quoted literal"),
    ],
)
def test_python_re_rejects_what_go_accepts(pattern: str) -> None:
    # Guards the premise of this module: Python's `re` would give the wrong verdict.
    with pytest.raises(re.error):
        re.compile(pattern)
    assert regex_error(pattern) is None
