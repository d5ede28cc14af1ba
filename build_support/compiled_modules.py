"""The modules mypyc compiles, expanded from `[tool.kargo-rollback-webhook.compiled]`.

Stated by package: every module under a listed package is compiled (its `__init__` files
aside, which hold nothing that runs per request), unless named in `exclude` (a module or a
whole subpackage), so a new module on the request path is compiled without anyone listing it.
`modules` adds single modules outside those packages. One reading for the build (setup.py) and
the tests that check the build (tests/test_compiled.py and the packaging tests).
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def compiled_modules(root: Path) -> list[str]:
    """The dotted names of the compiled modules of the checkout at `root`, sorted."""
    with (root / "pyproject.toml").open("rb") as f:
        declared = tomllib.load(f)["tool"]["kargo-rollback-webhook"]["compiled"]
    excluded: list[str] = declared.get("exclude", [])
    found: set[str] = set(declared.get("modules", []))
    for package in declared["packages"]:
        folder = root / Path(*package.split("."))
        for source in folder.rglob("*.py"):
            if source.name == "__init__.py":
                continue
            module = ".".join(source.relative_to(root).with_suffix("").parts)
            if not any(module == name or module.startswith(name + ".") for name in excluded):
                found.add(module)
    return sorted(found)


def excluded_modules(root: Path) -> list[str]:
    """The names `exclude` lists (modules or subpackages)."""
    with (root / "pyproject.toml").open("rb") as f:
        declared = tomllib.load(f)["tool"]["kargo-rollback-webhook"]["compiled"]
    names: list[str] = declared.get("exclude", [])
    return names
