"""`glob:` stage names are judged as doublestar's `ValidatePattern` judges them.

The verdicts in tests/fixtures/oracle come from doublestar v4 itself (the library and function
Kargo's `pkg/pattern` calls), run on 1,883 patterns made of its special characters; the webhook
must agree with every one, and report Kargo's message for each invalid one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.k8s.field import FieldPath
from app.kargo.patterns import GLOB_SYNTAX_ERROR, glob_error, validate_name_selector

pytestmark = pytest.mark.oracle

VERDICTS = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "oracle"
    / "doublestar-validate-verdicts.json"
)
NAME_PATH = FieldPath.root("spec").child("promotionPolicies").index(0).child("stageSelector")


def load_verdicts() -> list[tuple[str, bool]]:
    document = json.loads(VERDICTS.read_text(encoding="utf-8"))
    return [(str(entry["p"]), bool(entry["ok"])) for entry in document["glob"]]


def test_the_fixture_holds_both_verdicts() -> None:
    verdicts = load_verdicts()
    assert len(verdicts) == 1883
    assert len({pattern for pattern, _ in verdicts}) == len(verdicts)
    valid = sum(ok for _, ok in verdicts)
    assert 0 < valid < len(verdicts)


def test_every_glob_is_judged_as_doublestar_judges_it() -> None:
    differences = [
        f"{pattern!r}: doublestar {'valid' if ok else 'invalid'}, webhook {glob_error(pattern)!r}"
        for pattern, ok in load_verdicts()
        if (glob_error(pattern) is None) is not ok
    ]

    assert not differences, f"{len(differences)} differ from doublestar:\n" + "\n".join(
        differences[:40]
    )


def test_the_name_selector_reports_kargos_message_for_each_invalid_glob() -> None:
    for pattern, ok in load_verdicts():
        errors = validate_name_selector(NAME_PATH, "glob:" + pattern)
        assert [e.detail for e in errors] == ([] if ok else [GLOB_SYNTAX_ERROR]), pattern
        assert all(e.bad_value == "glob:" + pattern for e in errors)
