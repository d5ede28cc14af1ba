"""`make help` lists every command the Makefile offers: it is generated from the `## ` comments on
the rule lines, and every .PHONY target (but FORCE, the always-out-of-date prerequisite) must
carry one, so a new target cannot be left out of the list."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")

# Not a command: the prerequisite that makes a file target always out of date.
NOT_COMMANDS = {"FORCE"}


def _phony_targets() -> list[str]:
    """The names on every `.PHONY:` line, continuation lines included."""
    joined = MAKEFILE.replace("\\\n", " ")
    targets: list[str] = []
    for line in re.findall(r"^\.PHONY:(.*)$", joined, re.MULTILINE):
        targets += line.split()
    return targets


def _help() -> dict[str, str]:
    """`make help`'s lines: target -> description."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    shown = subprocess.run(
        [make, "--no-print-directory", "-s", "-C", str(ROOT), "help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    lines = [re.match(r"^make (\S+)\s+(.+)$", line) for line in shown.splitlines()]
    assert all(lines), shown
    return {match.group(1): match.group(2) for match in lines if match}


def test_help_lists_every_phony_target() -> None:
    phony = [target for target in _phony_targets() if target not in NOT_COMMANDS]
    assert len(phony) >= 16, phony
    shown = _help()
    assert sorted(set(phony) - set(shown)) == []
    assert sorted(set(shown) - set(phony)) == [], "make help lists a target that is not .PHONY"


def test_help_is_the_default_target_and_describes_each() -> None:
    first = re.search(r"^([a-z][a-z-]*):", MAKEFILE, re.MULTILINE)
    assert first is not None
    assert first.group(1) == "help"
    assert all(len(description) > 10 for description in _help().values())
