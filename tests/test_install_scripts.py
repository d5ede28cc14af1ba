"""The skeleton scripts/install-*.sh share (scripts/install-common.sh): each installer sources it,
and its steps stop, go on or clean up as the installers rely on. `make tools` runs the
installers themselves; these tests run the skeleton's functions in a throwaway script, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent.parent / "scripts"
COMMON = SCRIPTS / "install-common.sh"
INSTALLERS = sorted(SCRIPTS.glob("install-*.sh"))


def _bash() -> str:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    return bash


def _run(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`body` in a script named install-demo.sh that sources the skeleton, as an installer does."""
    script = tmp_path / "install-demo.sh"
    script.write_text(f"set -euo pipefail\n. {COMMON}\n{body}\n")
    return subprocess.run(
        [_bash(), str(script)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("installer", [p for p in INSTALLERS if p != COMMON], ids=lambda p: p.name)
def test_each_installer_sources_the_skeleton_and_parses(installer: Path) -> None:
    text = installer.read_text(encoding="utf-8")
    assert '. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"' in text
    assert "install_begin" in text
    assert "mktemp" not in text, "the work directory comes from install_workdir"
    syntax = subprocess.run(
        [_bash(), "-n", str(installer)], capture_output=True, text=True, timeout=30, check=False
    )
    assert syntax.returncode == 0, syntax.stderr


def test_the_pinned_version_in_place_ends_the_install(tmp_path: Path) -> None:
    done = _run('installed_already v1 v1 "tool v1 already here"\necho not reached', tmp_path)
    assert (done.returncode, done.stdout) == (0, "tool v1 already here\n")
    going_on = _run('installed_already v1 v0 "tool v1 already here"\necho installing', tmp_path)
    assert (going_on.returncode, going_on.stdout) == (0, "installing\n")


def test_failures_name_the_calling_script(tmp_path: Path) -> None:
    wrong = _run('check_installed v1 v2 "tool v1"\necho not reached', tmp_path)
    assert wrong.returncode == 1
    assert wrong.stdout == ""
    assert wrong.stderr == "install-demo.sh: expected tool v1, got v2\n"
    platform = _run('require_platform Darwin-arm64 Linux-x86_64 "linux-amd64 only"', tmp_path)
    assert (platform.returncode, platform.stderr) == (1, "install-demo.sh: linux-amd64 only\n")


def test_the_tools_directory_and_the_work_directory(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    done = _run(f'install_begin {tools}\ninstall_workdir "$tools"\necho "$tools $work"', tmp_path)
    assert done.returncode == 0, done.stderr
    named_tools, work = done.stdout.split()
    assert named_tools == str(tools)
    assert Path(work).parent == tools
    assert not Path(work).exists(), "the work directory is removed on exit"
    default = _run("install_begin\necho $tools", tmp_path)
    assert default.stdout.strip() == str(SCRIPTS.parent / ".tools")
