"""The pinned Go toolchain and the Go regexp oracle built with it.

Go comes from `.tools/go/bin/go`, installed and pinned by `scripts/install-go.sh` (which
`make unit` runs first), or from `$GO`. A missing Go fails the tests: the oracle is never
skipped. The oracle (tests/oracle/goregexp) and the end-to-end tests' webhook client
(tests/e2e/gowebhookclient) are built with a clean environment whose build cache,
module path and config home all sit in `.tools/`, with GOTOOLCHAIN=local and GOPROXY=off, so the
build touches nothing outside the repository and downloads nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tools import REPO_ROOT, TOOLS

GOREGEXP_SOURCE = Path(__file__).resolve().parent / "goregexp"

INSTALL_GO = REPO_ROOT / "scripts" / "install-go.sh"


def pinned_go_version() -> str:
    """GO_VERSION from scripts/install-go.sh, the one place the Go version is pinned."""
    found = re.search(r'^GO_VERSION="(go[0-9.]+)"$', INSTALL_GO.read_text(), re.MULTILINE)
    assert found is not None, f'no GO_VERSION="go..." line in {INSTALL_GO}'
    return found.group(1)


def pinned_go_minor() -> str:
    """The pinned release line (`go1.27` for go1.27.3): a `$GO` of another patch will do, as
    `regexp/syntax` and the Unicode tables do not change within a release line."""
    major, minor = pinned_go_version().split(".")[:2]
    return f"{major}.{minor}"


def go_environment(home: Path) -> dict[str, str]:
    """An environment for `go build` that reads and writes only `.tools/` and `home`."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(TOOLS / "go-config"),
        "GOCACHE": str(TOOLS / "go-cache"),
        "GOPATH": str(TOOLS / "go-path"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "CGO_ENABLED": "0",
    }


def go_version(go: Path, home: Path) -> str:
    result = subprocess.run(
        [str(go), "env", "GOVERSION"],
        env=go_environment(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def build_goregexp(go: Path, out_dir: Path, source: Path = GOREGEXP_SOURCE) -> Path:
    """Build the oracle into `out_dir`; Go's build cache in `.tools/` makes rebuilds cheap."""
    return build_go_program(go, source, out_dir / "goregexp")


def build_go_program(go: Path, source: Path, binary: Path) -> Path:
    """`go build` the module in `source` to `binary`, offline; a failure fails the test."""
    result = subprocess.run(
        [str(go), "build", "-o", str(binary), "."],
        cwd=source,
        env=go_environment(binary.parent),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building {source.name} with Go failed:\n{result.stderr}", pytrace=False)
    return binary


@dataclass(frozen=True, slots=True)
class GoVerdict:
    """What `regexp.Compile` said: None when it compiled, else `err.Error()`."""

    error: str | None


def go_regexp_verdicts(binary: Path, patterns: Sequence[str]) -> list[GoVerdict]:
    """Go's verdict on each pattern, in order, from one run of the oracle.

    Patterns travel as JSON strings, so Go's decoder reads them as Kargo's does (an unpaired
    surrogate becomes U+FFFD).
    """
    stdin = "".join(json.dumps(p) + "\n" for p in patterns)
    result = subprocess.run(
        [str(binary)], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(patterns), "the oracle answered a different number of patterns"
    verdicts: list[GoVerdict] = []
    for line in lines:
        answer = json.loads(line)
        verdicts.append(GoVerdict(None if answer["ok"] else str(answer["error"])))
    return verdicts
