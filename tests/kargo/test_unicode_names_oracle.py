"""`\\p{...}` names are judged as the pinned Go judges them, in every loose spelling.

The name tables in app/kargo/patterns/unicode_names.py are generated from the pinned Go
(`make unicode-names`); here Go itself reports its tables, and the checked-in ones must be exactly
what the generator writes from them. Then every name Go knows (categories, their aliases, scripts
and the special names), spelled loosely and in near misses (tests/oracle/unicode_variants.py), is
run through Go's `regexp.Compile` and the webhook in one batch: same verdicts, same messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.kargo.patterns import regex_error
from tests.oracle.go import go_regexp_verdicts
from tests.oracle.unicode_tables import (
    UNICODE_NAMES_MODULE,
    checked_in_block,
    go_unicode_names,
    render,
)
from tests.oracle.unicode_variants import class_patterns

pytestmark = pytest.mark.oracle


def test_the_checked_in_name_tables_are_what_go_reports(goregexp: Path) -> None:
    names = go_unicode_names(goregexp)
    # Scripts Unicode 16 and 17 added are among them: this is the Go the rules follow, not an
    # older one (Go 1.26 had Unicode 15).
    assert {"Garay", "Sunuwar", "Tolong_Siki"} <= set(names.scripts)

    checked_in = checked_in_block(UNICODE_NAMES_MODULE.read_text())

    assert checked_in == render(names), "regenerate the tables with `make unicode-names`"


def test_every_name_in_every_spelling_is_judged_as_go_judges_it(goregexp: Path) -> None:
    patterns = class_patterns(go_unicode_names(goregexp).all_names())
    verdicts = go_regexp_verdicts(goregexp, patterns)

    differences = [
        f"{pattern!r}: go {go.error!r}, webhook {regex_error(pattern)!r}"
        for pattern, go in zip(patterns, verdicts, strict=True)
        if regex_error(pattern) != go.error
    ]

    assert not differences, f"{len(differences)} of {len(patterns)} differ from Go:\n" + "\n".join(
        differences[:40]
    )
    # Both verdicts are well represented, so neither half of the rule goes untested.
    valid = sum(go.error is None for go in verdicts)
    assert 0.3 * len(patterns) < valid < 0.8 * len(patterns), (valid, len(patterns))


@pytest.mark.parametrize(
    "pattern",
    [
        "\\p{Garay}",
        "\\p{Sunuwar}",
        "\\p{Tolong_Siki}",
        "\\p{Old_Italic}",
        "\\p{old italic}",
        "\\p{OLD_ITALIC}",
    ],
)
def test_names_go_1_27_added_are_valid(pattern: str, goregexp: Path) -> None:
    [go] = go_regexp_verdicts(goregexp, [pattern])
    assert go.error is None
    assert regex_error(pattern) is None
