"""Builds as a user makes them: from a copy of the checkout that holds only what git tracks, in a
private (0700) directory, by a fresh venv of the base interpreter that sees nothing of the
project's venv, with only the package index to draw on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = "kargo-rollback-webhook"
FALLBACK_WARNING = "WARNING: kargo-rollback-webhook: building without compiled modules"


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if listed.returncode == 0:
        return [name for name in listed.stdout.split("\0") if name]
    # Not a git checkout (an unpacked sdist): everything but caches and build output.
    ignored = {"__pycache__", ".venv", ".venv-lowest", ".tools", "build", ".mypy_cache"}
    return [
        str(path.relative_to(REPO))
        for path in REPO.rglob("*")
        if path.is_file()
        and not ignored & set(path.relative_to(REPO).parts)
        and path.suffix not in {".so", ".pyc"}
        and ".egg-info" not in str(path)
    ]


def copy_checkout(destination: Path) -> Path:
    """The tracked files, as a fresh clone has them (no compiled extensions, no venv)."""
    for name in tracked_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return destination


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points into the project's venv."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"} and not name.startswith("KRW_")
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(extra)
    return env


def base_interpreter() -> str:
    """The interpreter the project's venv was made from."""
    return str(getattr(sys, "_base_executable", sys.executable))


@dataclass(frozen=True)
class Venv:
    path: Path

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    @property
    def script(self) -> str:
        return str(self.path / "bin" / CONSOLE_SCRIPT)

    def pip(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return run([self.python, "-m", "pip", *args], cwd=cwd, **env)

    def imported_files(self, modules: list[str], cwd: Path) -> dict[str, str]:
        """Where each module is imported from, in this venv, outside any checkout."""
        code = (
            "import importlib, sys\n"
            "for m in sys.argv[1:]: print(importlib.import_module(m).__file__)"
        )
        result = run([self.python, "-c", code, *modules], cwd=cwd)
        assert result.returncode == 0, result.stderr
        return dict(zip(modules, result.stdout.split(), strict=True))


def make_venv(path: Path) -> Venv:
    run_checked([base_interpreter(), "-m", "venv", str(path)], cwd=path.parent)
    return Venv(path)


def run(args: list[str], *, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_checked(args: list[str], *, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = run(args, cwd=cwd, **env)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result


def wheel_extensions(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return sorted(name for name in archive.namelist() if name.endswith(".so"))


def only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found
