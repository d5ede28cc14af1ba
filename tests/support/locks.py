"""The locked sets (requirements/*.txt, written by `make lock`): what they pin, for this
machine's environment."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"


def requirements(name: str) -> list[Requirement]:
    """Every requirement of a lock file, hashes left out."""
    found: list[Requirement] = []
    for line in (REQUIREMENTS / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#", "-")):
            found.append(Requirement(line.removesuffix("\\").strip()))
    return found


def pins(name: str, *, here: bool = True) -> dict[str, str]:
    """Canonical name -> pinned version; with `here`, only what applies to this environment."""
    result: dict[str, str] = {}
    for requirement in requirements(name):
        if here and requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name}: {requirement} is not pinned"
        result[canonicalize_name(requirement.name)] = specifier.version
    return result
