"""Whether a promotion policy's stage selector matches a Stage, as Kargo decides it.

Kargo's `pkg/pattern.ParseNamePattern` (pkg/pattern/matcher.go) picks the matcher by prefix:
`glob:` is doublestar v4's `MatchUnvalidated` (`app.commands.doublestar`), `regex:` and
`regexp:` are Go's `regexp.MatchString`, an unanchored RE2 search, and anything else is an exact
name. The label selector is `metav1.LabelSelectorAsSelector` matched against the Stage's labels
(apimachinery `labels.Selector.Matches`): `matchLabels` and every `matchExpressions` requirement
must hold, `In`/`NotIn` on the label's value, `Exists`/`DoesNotExist` on its key; an empty or
absent selector matches every Stage.

RE2 runs here through google-re2, which shares Go's regexp syntax and its leftmost-first
semantics. Where google-re2 cannot compile a pattern that Go accepts (Go-only syntax such as a
newer Unicode script name), the match is unknown (`None`) and the caller says so instead of
guessing; so is a glob with too many `{a,b}` alternatives to try.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final, Protocol

import re2

from app.commands.doublestar import GlobTooComplex, match_unvalidated

GLOB_PREFIX: Final = "glob:"
REGEX_PREFIXES: Final = ("regex:", "regexp:")

# Go's `regexp.MatchString` needs no more than a boolean; a Stage name is at most 253 bytes.
_COMPILED_PATTERNS: Final = 256


def pattern_kind(selector: str) -> str:
    """`glob`, `regex` or `exact`: the matcher Kargo builds for a name selector."""
    if selector.startswith(GLOB_PREFIX):
        return "glob"
    if selector.startswith(REGEX_PREFIXES):
        return "regex"
    return "exact"


def regex_body(selector: str) -> str:
    """The expression of a `regex:`/`regexp:` selector."""
    for prefix in REGEX_PREFIXES:
        if selector.startswith(prefix):
            return selector.removeprefix(prefix)
    return selector


def name_matches(selector: str, name: str) -> bool | None:
    """Whether Kargo's matcher for `selector` matches the Stage `name`; None when unknown."""
    kind = pattern_kind(selector)
    if kind == "glob":
        try:
            return match_unvalidated(selector.removeprefix(GLOB_PREFIX), name)
        except GlobTooComplex:
            return None
    if kind == "regex":
        return regex_search(regex_body(selector), name)
    return selector == name


def regex_search(expression: str, text: str) -> bool | None:
    """Go's `regexp.MatchString(expression, text)`; None when RE2 here cannot compile it."""
    compiled = _compile(expression)
    if compiled is None:
        return None
    return compiled.search(text) is not None


def regex_find(expression: str, text: str) -> str | None:
    """The text of the leftmost-first match, as Go's `FindString`; None when none or unknown."""
    compiled = _compile(expression)
    if compiled is None:
        return None
    found = compiled.search(text)
    return None if found is None else found.group(0)


class _Match(Protocol):
    def group(self, index: int = 0, /) -> str: ...


class _Pattern(Protocol):
    """What is used of a compiled google-re2 pattern (the module has no type information)."""

    def search(self, text: str, /) -> _Match | None: ...


@lru_cache(maxsize=_COMPILED_PATTERNS)
def _compile(expression: str) -> _Pattern | None:
    options = re2.Options()
    options.log_errors = False
    try:
        compiled: _Pattern = re2.compile(expression, options)
    except re2.error:
        return None
    return compiled


def labels_match(selector: Mapping[str, object], labels: Mapping[str, str]) -> bool | None:
    """Whether the inlined label selector (`matchLabels`, `matchExpressions`) matches `labels`.

    None when the selector is malformed: Kargo then fails the Stage's reconcile with an error,
    which the ProjectConfig's own validation reports.
    """
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return None
    for key, value in match_labels.items():
        if not isinstance(value, str):
            return None
        if labels.get(key) != value:
            return False
    for requirement in expressions:
        verdict = _requirement_matches(requirement, labels)
        if verdict is not True:
            return verdict
    return True


def _requirement_matches(requirement: object, labels: Mapping[str, str]) -> bool | None:
    if not isinstance(requirement, dict):
        return None
    key, operator = requirement.get("key"), requirement.get("operator")
    values = requirement.get("values") or []
    if not isinstance(key, str) or not isinstance(values, list):
        return None
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return None


# --- unanchored regexes -------------------------------------------------------------------------

# A literal run as people write stage names: `prod`, `prod-eu`, `prod\.eu`.
_LITERAL: Final = re.compile(r"(?:[A-Za-z0-9_-]|\\\.)+")


def is_anchored(expression: str) -> bool:
    """Whether the expression is written as `^…$` (or `\\A…\\z`): the shape that matches whole
    names. A top-level `|` can still leave it unanchored; `unanchored_example` catches that."""
    starts = expression.startswith(("^", "\\A"))
    ends = expression.endswith(("$", "\\z")) and not _escaped_at_end(expression)
    return starts and ends


def _escaped_at_end(expression: str) -> bool:
    """Whether the last character is escaped (`\\$` is a literal dollar, not an anchor)."""
    backslashes = len(expression[:-1]) - len(expression[:-1].rstrip("\\"))
    return backslashes % 2 == 1 and not expression.endswith("\\z")


def unanchored_example(expression: str, known_matches: list[str]) -> tuple[str, str] | None:
    """A name the expression matches whole, and a longer name it matches only because Go
    searches rather than matching whole names (`regex:prod`: `prod`, then `nonprod`).

    Both are checked with the matcher itself: the longer name is matched by the expression as
    written but not by `\\A(?:expression)\\z`, so the example is never wrong. None when no such
    pair could be built (then the caller phrases the warning generically).
    """
    whole = f"\\A(?:{expression})\\z"
    literal = expression.removeprefix("^").removesuffix("$")
    if _LITERAL.fullmatch(literal):  # `regex:prod`: the word itself, then `nonprod`
        example = _longer(expression, whole, literal.replace("\\.", "."))
        if example is not None:
            return example
    for name in known_matches:
        # A Stage of the input that the expression matches only in part is the best example.
        found = regex_find(expression, name)
        if found and regex_search(whole, found) and regex_search(whole, name) is False:
            return found, name
    for name in known_matches:
        example = _longer(expression, whole, name)
        if example is not None:
            return example
    return None


def _longer(expression: str, whole: str, base: str) -> tuple[str, str] | None:
    """`base` (matched whole) and a longer name matched only by the search, if one is found."""
    if regex_search(whole, base) is not True:
        return None
    for candidate in ("non" + base, base + "-old", "x" + base, base + "x", "x-" + base + "-x"):
        if regex_search(expression, candidate) and regex_search(whole, candidate) is False:
            return base, candidate
    return None
