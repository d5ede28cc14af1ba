"""`regex:` selectors match Stage names as Go's `regexp.MatchString` does, Go itself the judge.

Kargo's pkg/pattern (`RegexpMatcher.Matches`) searches a Stage name with Go's regexp; `check`
searches with google-re2 (`app.commands.stage_match`). The pinned Go toolchain builds
tests/oracle/gomatch, and on every pair below its verdict must equal `check`'s. The examples the
unanchored-regex warning gives are checked with Go too: Go matches the longer name, and does not
match it with the expression anchored as `\\A(?:…)\\z`.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.commands.stage_match import regex_search, unanchored_example
from tests.oracle.go import go_environment
from tests.support.tools import GO

pytestmark = pytest.mark.oracle

GOMATCH_SOURCE = Path(__file__).parents[1] / "oracle" / "gomatch"

PATTERNS = [
    "prod",
    "^prod",
    "prod$",
    "^prod$",
    "^prod-(eu|us)-[0-9]+$",
    "prod-(eu|us)",
    "^a|b$",
    "^(dev|qa)$",
    "qa-\\d+",
    "^qa-\\d{1,2}$",
    "(?i)^PROD",
    "\\bprod\\b",
    "^perf-[a-z]+$",
    "[^a-z]",
    "^$",
    "",
    ".",
    "^.{3}$",
    "e.*u",
    "^[[:alpha:]]+-[[:digit:]]$",
    "\\Aprod\\z",
    "x*",
    "^(?:prod|staging)-.+$",
    "\\p{Greek}",
    "^canary-(?P<region>eu|us)$",
    "(?s).",
    "prod\\.eu",
    "^prod\\$",
    "ü",
    "[αβ]",
]
NAMES = [
    "prod",
    "nonprod",
    "prod-old",
    "prod-eu",
    "prod-eu-1",
    "prod-us-12",
    "PROD-eu",
    "dev",
    "qa",
    "qa-1",
    "qa-123",
    "b",
    "ab",
    "a",
    "",
    "perf-eu",
    "perf-eux",
    "canary-eu",
    "staging-x",
    "prod.eu",
    "prodxeu",
    "prod$",
    "x-prod-y",
    "für",
    "αβγ",
    "a1",
    "abc",
]


@pytest.fixture(scope="module")
def gomatch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("gomatch")
    binary = out_dir / "gomatch"
    result = subprocess.run(
        [str(GO.path()), "build", "-o", str(binary), "."],
        cwd=GOMATCH_SOURCE,
        env=go_environment(out_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building the Go match oracle failed:\n{result.stderr}", pytrace=False)
    return binary


def go_matches(binary: Path, pairs: Sequence[tuple[str, str]]) -> list[bool | str]:
    """Go's verdict on each (pattern, name): the match, or the compile error's text."""
    stdin = "".join(json.dumps(list(pair)) + "\n" for pair in pairs)
    result = subprocess.run(
        [str(binary)], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(pairs)
    return [answer.get("error") or bool(answer["match"]) for answer in answers]


def test_search_agrees_with_go_on_every_pair(gomatch: Path) -> None:
    pairs = list(itertools.product(PATTERNS, NAMES))
    verdicts = go_matches(gomatch, pairs)
    assert not [v for v in verdicts if isinstance(v, str)], "every pattern here is valid Go"
    ours = [regex_search(pattern, name) for pattern, name in pairs]
    differ = [(p, v, o) for p, v, o in zip(pairs, verdicts, ours, strict=True) if v != o]
    assert differ == []
    assert sum(v is True for v in verdicts) > len(pairs) // 5  # both verdicts well represented


def test_unanchored_examples_hold_in_go(gomatch: Path) -> None:
    examples = []
    for pattern in PATTERNS:
        matched = [name for name in NAMES if regex_search(pattern, name)]
        example = unanchored_example(pattern, matched)
        if example is not None:
            examples.append((pattern, *example))
    assert len(examples) >= 8
    pairs: list[tuple[str, str]] = []
    for pattern, base, longer in examples:
        whole = f"\\A(?:{pattern})\\z"
        pairs += [(pattern, longer), (whole, longer), (whole, base)]
    verdicts = go_matches(gomatch, pairs)
    assert verdicts == [True, False, True] * len(examples), examples
