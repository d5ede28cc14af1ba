"""The command line: the console script and `python -m app` are the same program."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cli import CLI


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([CLI], id="console script"),
        pytest.param([sys.executable, "-m", "app"], id="-m"),
    ],
)
def test_help_lists_every_command(command: list[str]) -> None:
    result = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    for name in ("serve", "certs", "check", "policy"):
        assert name in result.stdout


def test_no_command_is_a_usage_error() -> None:
    result = subprocess.run([CLI], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "usage:" in result.stderr
