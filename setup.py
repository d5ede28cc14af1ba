"""Build: the package, with the modules on every request's path compiled by mypyc.

Everything else about the package is declared in pyproject.toml; this file only adds the
compiled extension modules, named by `[tool.kargo-rollback-webhook.compiled]` (by package,
with named exclusions; expanded by build_support/compiled_modules.py). mypyc turns
the type-checked Python of those modules into C: on the benchmark's mutating path it answered
about a fifth more requests per second than the same code interpreted (docs/benchmarks.md).

How a build goes:

- mypyc runs only when extensions are built (`build_ext`, which `pip install`, `pip wheel` and
  `pip install -e` run), never for metadata or an sdist.
- The source stays the reference: every compiled module is also shipped as Python, and the
  package works without the extensions. Where they cannot be built (no C compiler, or mypy
  rejects the sources) the build prints one warning and ships pure Python: a type-check failure
  is never the installer's problem. KRW_PURE_PYTHON=1 builds pure Python on purpose.
- KRW_REQUIRE_COMPILED=1 turns that fallback into an error. The image's build stage sets it, so
  an image never ships the slower build silently.
- The compiled library is reproducible: no debug information, and no build path (the checkout's
  or pip's temporary build environment's) is recorded in it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Distribution, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def pure_python_requested() -> bool:
    return os.environ.get("KRW_PURE_PYTHON") == "1"


def compiled_required() -> bool:
    return os.environ.get("KRW_REQUIRE_COMPILED") == "1"


def compiled_modules() -> list[str]:
    sys.path.insert(0, str(HERE / "build_support"))
    try:
        from compiled_modules import compiled_modules as expand  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    modules: list[str] = expand(HERE)
    return modules


# The commands that build extensions (pip install/wheel: bdist_wheel; pip install -e:
# editable_wheel; make compile: build_ext), as against egg_info, dist_info and sdist.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "install", "develop"}


class CompiledBuildError(RuntimeError):
    """The compiled modules could not be built and KRW_REQUIRE_COMPILED=1 demands them."""


def mypyc_extensions() -> list[Any]:
    """The extensions mypyc generates for the listed modules (raises when it cannot)."""
    from mypyc.build import include_dir, mypycify  # a build requirement (pyproject.toml)

    sources = [str(Path(*module.split("."))) + ".py" for module in compiled_modules()]
    # One shared library for the group, inside the package (app/native__mypyc.*.so): at the top
    # level it would be a module of its own on sys.path, beside `app`. debug_level 0: no debug
    # information, which would embed build paths (and doubles the library's size).
    extensions = list(
        mypycify(sources, opt_level="3", debug_level="0", group_name="app.native")
    )
    # Build paths out of anything the compiler records (__FILE__ in mypyc's runtime headers):
    # the checkout's directory and pip's temporary build environment differ from build to build.
    prefix_maps = [
        f"-ffile-prefix-map={HERE}=.",
        f"-ffile-prefix-map={include_dir()}=mypyc-lib-rt",
    ]
    for extension in extensions:
        extension.extra_compile_args = [*extension.extra_compile_args, *prefix_maps]
        extension.extra_link_args = [*extension.extra_link_args, "-Wl,--strip-all"]
    return extensions


class BuildCompiled(build_ext):
    """Generate and compile the mypyc extensions, or fall back to pure Python with a warning."""

    # Decided once per build: a command may be finalized again (a reinitialized build_ext), and
    # neither mypyc nor the warning should run twice.
    decided = False

    def finalize_options(self) -> None:
        # Generated here, before setuptools prepares the extension list (stubs, full names);
        # only for a build: metadata and the sdist's file list finalize build_ext too.
        building = BUILD_COMMANDS & set(self.distribution.commands)
        if building and not BuildCompiled.decided:
            BuildCompiled.decided = True
            if pure_python_requested():
                _warn("KRW_PURE_PYTHON=1")
            else:
                try:
                    self.distribution.ext_modules = mypyc_extensions()
                except (Exception, SystemExit) as exc:  # mypy exits through SystemExit
                    _fall_back(exc)
        super().finalize_options()

    def run(self) -> None:
        try:
            super().run()
        except (Exception, SystemExit) as exc:  # no C compiler, or it failed
            self._discard_outputs()
            _fall_back(exc)

    def _discard_outputs(self) -> None:
        """A half-built group must not ship: the modules are compiled all together or none."""
        for output in self.get_outputs() if self.extensions else []:
            Path(output).unlink(missing_ok=True)
        self.extensions = []


class CompiledDistribution(Distribution):
    """The extensions are generated when built, not when setup.py is read; say there are some,
    so that `build` runs `build_ext` and the wheel is tagged for this platform."""

    def has_ext_modules(self) -> bool:
        return not pure_python_requested()


def _fall_back(exc: BaseException) -> None:
    if compiled_required():
        raise CompiledBuildError(
            f"KRW_REQUIRE_COMPILED=1 but the compiled modules could not be built: {exc!r}"
        ) from exc
    _warn(repr(exc))


def _warn(reason: str) -> None:
    print(
        f"WARNING: kargo-rollback-webhook: building without compiled modules ({reason}); "
        "the package runs as pure Python",
        file=sys.stderr,
    )


setup(distclass=CompiledDistribution, cmdclass={"build_ext": BuildCompiled})
