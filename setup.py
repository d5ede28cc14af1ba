"""Build: the package, with the modules on every request's path compiled by mypyc.

Everything else about the package is declared in pyproject.toml; this file only adds the
compiled extension modules, listed under `[tool.kargo-rollback-webhook] compiled`. mypyc turns
the type-checked Python of those modules into C: on the benchmark's mutating path it answered
about a fifth more requests per second than the same code interpreted (docs/benchmarks.md).

The source stays the reference: every compiled module is also shipped as Python, and the
package works without the extensions. Set KRW_PURE_PYTHON=1 to build without them; a build
that cannot compile (no C compiler) says so and falls back to pure Python instead of failing.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

try:
    from mypyc.build import mypycify
except ImportError:  # mypy is a build requirement; without it, pure Python
    mypycify = None

HERE = Path(__file__).resolve().parent


def compiled_modules() -> list[str]:
    with (HERE / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    modules: list[str] = config["tool"]["kargo-rollback-webhook"]["compiled"]
    return modules


class OptionalBuildExt(build_ext):
    """Build the extensions if a compiler is there; otherwise warn and ship pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # any compiler failure means "pure Python"
            _warn(exc)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(exc)


def _warn(exc: Exception) -> None:
    print(
        f"kargo-rollback-webhook: building without compiled modules ({exc}); "
        "the package runs as pure Python",
        file=sys.stderr,
    )


def ext_modules() -> list[Any]:
    if os.environ.get("KRW_PURE_PYTHON") == "1":
        return []
    if mypycify is None:
        _warn(ImportError("mypyc is not installed"))
        return []
    sources = [str(Path(*module.split("."))) + ".py" for module in compiled_modules()]
    # One shared library for the group, inside the package (app/native__mypyc.*.so): at the top
    # level it would be a module of its own on sys.path, beside `app`.
    return list(mypycify(sources, opt_level="3", group_name="app.native"))


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
