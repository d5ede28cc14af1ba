"""The locked sets (requirements/*.txt) agree with what pyproject.toml declares and with each
other, so that `make lock` left nothing stale: offline, from the files alone."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.locks import REQUIREMENTS, pins

PYPROJECT = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
)
SETS = ("runtime.txt", "build.txt", "dev.txt")


def _declared(lines: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in lines]


def _build_in() -> list[str]:
    text = (REQUIREMENTS / "build.in").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_build_in_is_the_build_system_requirements() -> None:
    assert _build_in() == PYPROJECT["build-system"]["requires"]


@pytest.mark.parametrize(
    ("declared", "lock"),
    [
        pytest.param(PYPROJECT["project"]["dependencies"], "runtime.txt", id="dependencies"),
        pytest.param(
            PYPROJECT["project"]["optional-dependencies"]["test"], "dev.txt", id="test extra"
        ),
        pytest.param(PYPROJECT["build-system"]["requires"], "build.txt", id="build-system"),
    ],
)
def test_every_declared_requirement_is_pinned_within_its_range(
    declared: list[str], lock: str
) -> None:
    pinned = pins(lock, here=False)
    for requirement in _declared(declared):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock} does not pin {name}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement}: run `make lock`"
        )


def test_a_package_in_several_sets_has_one_version() -> None:
    versions: dict[str, set[str]] = {}
    for lock in SETS:
        for name, version in pins(lock, here=False).items():
            versions.setdefault(name, set()).add(version)
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}


def test_the_dev_set_holds_the_runtime_and_build_sets() -> None:
    dev = pins("dev.txt", here=False)
    for lock in ("runtime.txt", "build.txt"):
        assert pins(lock, here=False).items() <= dev.items(), lock
