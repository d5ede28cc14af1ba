"""The build backend: setuptools' own, with two additions that make every install path work.

1. The wheel and editable builds also install the package's runtime dependencies into the build
   environment. mypyc type-checks the compiled modules (setup.py) with mypy, and mypy needs the
   packages those modules import (orjson, prometheus-client, starlette, ...): inside pip's
   isolated build environment they are otherwise missing, the type check fails and no wheel can
   be built. Declared once, in pyproject.toml's `dependencies`, and read from there.
2. Wheels are reproducible: unless SOURCE_DATE_EPOCH is set, every file in the wheel carries one
   fixed timestamp instead of its modification time in the checkout.

The sdist needs neither: it is built from the sources alone, without compiling.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (
    build_editable,
    build_sdist,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# 1980-01-01T00:00:00Z: the earliest time a zip archive can record.
ZIP_EPOCH = "315532800"

ConfigSettings = dict[str, Any] | None


def _runtime_dependencies() -> list[str]:
    """What mypy needs to type-check the compiled modules; nothing when they are not compiled."""
    if os.environ.get("KRW_PURE_PYTHON") == "1":
        return []
    with PYPROJECT.open("rb") as f:
        dependencies: list[str] = tomllib.load(f)["project"]["dependencies"]
    return dependencies


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    requires: list[str] = _setuptools.get_requires_for_build_wheel(config_settings)
    return [*requires, *_runtime_dependencies()]


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    requires: list[str] = _setuptools.get_requires_for_build_editable(config_settings)
    return [*requires, *_runtime_dependencies()]


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    os.environ.setdefault("SOURCE_DATE_EPOCH", ZIP_EPOCH)
    name: str = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    return name
