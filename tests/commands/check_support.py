"""The `check` tests' shared parts: the fixture directories, the console script, manifests
written by the test, and ways to run `check` in process or as the script."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.commands.check import CheckOptions, check_paths
from app.commands.report import Report
from tests.support.reviews import KEY

FIXTURES = Path(__file__).parents[1] / "fixtures" / "check"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
BROKEN = FIXTURES / "broken"
HOSTILE = FIXTURES / "hostile"
SCRIPT = Path(sys.executable).parent / "kargo-rollback-webhook"

KARGO = "apiVersion: kargo.akuity.io/v1alpha1\n"
PROMOTION_WITH_ROLLBACK = f"""{KARGO}kind: Promotion
metadata:
  name: p1
  namespace: proj
  annotations:
    {KEY}: "true"
spec: {{stage: prod, freight: abc}}
"""


def project_config(name: str = "proj", namespace: str | None = "proj", policies: str = "") -> str:
    metadata = f"  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    body = policies or "    - stage: dev\n"
    return f"{KARGO}kind: ProjectConfig\nmetadata:\n{metadata}spec:\n  promotionPolicies:\n{body}"


def run_script(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "check", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = cli.main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_text(text: str, tmp_path: Path, name: str = "m.yaml", **options: Any) -> Report:
    path = tmp_path / name
    path.write_text(text)
    return check_paths([str(path)], CheckOptions(**options))
