"""The compiled modules, as the build expands them (build_support/compiled_modules.py).

Loaded from its file, as setup.py loads it: the build's own reading, not a copy of it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast

from tests.support.tools import REPO_ROOT

_SOURCE: Final = REPO_ROOT / "build_support" / "compiled_modules.py"


def _load(name: str) -> Callable[[Path], list[str]]:
    spec = importlib.util.spec_from_file_location("compiled_modules", _SOURCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast("Callable[[Path], list[str]]", getattr(module, name))


def compiled_modules() -> list[str]:
    """The dotted names of the modules mypyc compiles in this checkout."""
    return _load("compiled_modules")(REPO_ROOT)


def excluded_modules() -> list[str]:
    """The modules and subpackages the compiled packages leave out, by name."""
    return _load("excluded_modules")(REPO_ROOT)
