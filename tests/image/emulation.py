"""The Dockerfile's stages run without a container engine: each stage's own ENV, WORKDIR, COPY
and RUN instructions, in order, with the image's absolute paths mapped into a work directory.

What is the image's is kept: the build context (.dockerignore's allowlist and the COPY lines),
the commands themselves (a change to a RUN line changes what this runs), the lock, a fresh
interpreter that cannot see the project's venv, and the runtime stage's install from the build
stage's wheels only. What differs, and why:

- `python` is this machine's Python of the image's major.minor, one that UID 65532 can run.
- `apt-get` lines are skipped: they install the C compiler, which this machine has.
- pip keeps its cache (PIP_NO_CACHE_DIR is dropped): every download is still hash-checked
  against the lock, and the cache keeps this within about a minute.
- A RUN's bind mount from the build stage is the build stage's directory itself.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.image.dockerfile import REPO_ROOT, Stage, dockerignore_patterns

# The image's absolute paths that its stages name, and where they live in the emulation.
IMAGE_PATHS = ("/opt/venv", "/wheels", "/build", "/src")
_PATH = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(p) for p in IMAGE_PATHS) + r")(?=/|\b)")
_MOUNT = re.compile(r"--mount=(\S+)\s+")
_DROPPED_ENV = {"PIP_NO_CACHE_DIR"}


class EmulationError(AssertionError):
    """A stage's instruction failed, or is one this emulation does not know."""


@dataclass(frozen=True)
class Layout:
    """Where the image's paths live: the root of the image's filesystem and a bin directory
    whose `python` is the image's interpreter."""

    root: Path
    python: str

    def map(self, text: str) -> str:
        return _PATH.sub(lambda m: str(self.root) + m.group(1), text)

    @property
    def bin(self) -> Path:
        return self.root / "usr-local-bin"


def prepare(layout: Layout) -> None:
    layout.bin.mkdir(parents=True, exist_ok=True)
    (layout.bin / "python").symlink_to(layout.python)


def _copy_from_context(source: str, destination: Path) -> None:
    """A COPY from the build context, which .dockerignore limits (no caches, no in-place .so)."""
    ignored = [p for p in dockerignore_patterns() if p.startswith("**/")]
    ignore = shutil.ignore_patterns(*(p.removeprefix("**/") for p in ignored))
    origin = REPO_ROOT / source.rstrip("/")
    target = destination / origin.name if destination.is_dir() else destination
    if origin.is_dir():
        shutil.copytree(origin, target, ignore=ignore, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)


def _apply_env(arguments: str, env: dict[str, str], layout: Layout) -> None:
    for pair in shlex.split(layout.map(arguments)):
        name, _, value = pair.partition("=")
        if name not in _DROPPED_ENV:
            env[name] = re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value)


def _run(arguments: str, env: Mapping[str, str], cwd: Path, layout: Layout) -> str:
    for mount in _MOUNT.findall(arguments):
        options = dict(option.split("=", 1) for option in mount.split(","))
        if options.get("source") != options.get("target"):
            raise EmulationError(f"a bind mount that moves a directory: {mount}")
    command = layout.map(_MOUNT.sub("", arguments))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise EmulationError(f"RUN {command}\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def run_stage(stage: Stage, layout: Layout) -> list[str]:
    """Runs one stage's instructions; returns the output of each RUN."""
    env = {
        "PATH": f"{layout.bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }
    cwd = layout.root
    outputs: list[str] = []
    for instruction in stage.instructions:
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "ENV":
            _apply_env(arguments, env, layout)
        elif keyword == "WORKDIR":
            cwd = Path(layout.map(arguments))
            if not cwd.is_relative_to(layout.root):
                cwd = layout.root / arguments.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, destination = arguments.split()
            if any(source.startswith("--") for source in sources):
                raise EmulationError(f"COPY with options: {arguments}")
            target = cwd / destination
            if destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            for source in sources:
                _copy_from_context(source, target)
        elif keyword == "RUN":
            if arguments.startswith("apt-get "):
                continue  # the C compiler: this machine has one
            outputs.append(_run(arguments, env, cwd, layout))
        elif keyword not in {"ARG", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "LABEL"}:
            raise EmulationError(f"an instruction the emulation does not know: {keyword}")
    return outputs
