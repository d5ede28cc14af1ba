"""`regex:` stage names are judged as Go's `regexp.Compile` judges them, error text included.

Go itself is the oracle: the pinned toolchain (scripts/install-go.sh) builds tests/oracle/goregexp,
and its verdict on thousands of generated patterns (tests/oracle/regex_patterns.py) must equal the
webhook's, message for message. A difference is a bug in the webhook; each one found is kept below
as a regression case, which the oracle checks as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.k8s.field import FieldPath
from app.kargo.patterns import regex_error, validate_name_selector
from tests.oracle.go import go_regexp_verdicts
from tests.oracle.regex_patterns import generate

pytestmark = pytest.mark.oracle

SEED = 20260811
GENERATED = 4000
NAME_PATH = FieldPath.root("spec").child("promotionPolicies").index(0).child("stageSelector")


def _go_error(code: str, expr: str) -> str:
    return f"error parsing regexp: {code}: `{expr}`"


# Differences the oracle found, with Go's verdict, kept so they stay fixed.
REGRESSIONS: list[tuple[str, str | None]] = [
    # Go 1.26 looked scripts up by their exact key after canonicalising the name, so it reached
    # no script whose key has an underscore or an inner capital; Go 1.27 also looks them up
    # loosely, and Unicode 17 added scripts.
    ("\\p{Old_Italic}", None),
    ("\\p{old italic}", None),
    ("\\P{SignWriting}", None),
    ("\\p{Tolong_Siki}", None),
    ("\\p{Old_Italics}", _go_error("invalid character class range", "\\p{Old_Italics}")),
    ("\\p{Greek}\\p{han}", None),
    # A flag group or an empty \Q\E pushes nothing: the count applies to the whole group
    # before it, whose repeat product is then over 1000.
    ("(?:0{9}})(?){1000}", _go_error("invalid repeat count", "{1000}")),
    ("(?:a{9})\\Q\\E{1000}", _go_error("invalid repeat count", "{1000}")),
    ("(?:a{9})(?i)\\Q\\E(?-s){1000}", _go_error("invalid repeat count", "{1000}")),
    ("(?:a)(?s)*", None),
    # A stacked repetition is an error before its size is: Go never builds the huge repeat.
    ("(a){1,1000}{1000}", _go_error("invalid nested repetition operator", "{1,1000}{1000}")),
    ("(xx?){1000}{1000}", _go_error("invalid nested repetition operator", "{1000}{1000}")),
]


def _differences(patterns: list[str], binary: Path) -> list[str]:
    report: list[str] = []
    for pattern, go in zip(patterns, go_regexp_verdicts(binary, patterns), strict=True):
        ours = regex_error(pattern)
        if ours != go.error:
            shown = pattern if len(pattern) <= 120 else f"{pattern[:100]}... ({len(pattern)} chars)"
            report.append(f"{shown!r}: go {go.error!r}, webhook {ours!r}")
    return report


def test_the_generator_covers_both_verdicts() -> None:
    # A generator that only made valid (or only invalid) patterns would test half the rules.
    patterns = generate(SEED, GENERATED)
    verdicts = [regex_error(p) for p in patterns]
    valid = sum(v is None for v in verdicts)
    assert len(set(patterns)) > 0.9 * len(patterns)
    assert 0.2 * len(patterns) < valid < 0.8 * len(patterns)
    codes = {v.split(": ")[1] for v in verdicts if v is not None}
    assert len(codes) == 13, sorted(codes)  # all but internal, UTF-8 and char class


def test_every_generated_regex_is_judged_as_go_judges_it(goregexp: Path) -> None:
    patterns = generate(SEED, GENERATED)

    differences = _differences(patterns, goregexp)

    assert not differences, f"{len(differences)} of {len(patterns)} differ from Go:\n" + "\n".join(
        differences[:40]
    )


def test_the_name_selector_reports_gos_error_for_a_regex(goregexp: Path) -> None:
    # Through the webhook's entry point, with both identifiers: the detail is Go's error text.
    patterns = generate(SEED + 1, 300, with_limits=False)
    verdicts = go_regexp_verdicts(goregexp, patterns)
    for pattern, go in zip(patterns, verdicts, strict=True):
        for identifier in ("regex", "regexp"):
            errors = validate_name_selector(NAME_PATH, f"{identifier}:{pattern}")
            assert [e.detail for e in errors] == ([] if go.error is None else [go.error]), pattern


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [pytest.param(p, e, id=repr(p)) for p, e in REGRESSIONS],
)
def test_differences_found_by_the_oracle_stay_fixed(
    pattern: str, expected: str | None, goregexp: Path
) -> None:
    [go] = go_regexp_verdicts(goregexp, [pattern])
    assert go.error == expected  # the recorded verdict is Go's
    assert regex_error(pattern) == expected
